/*
 * A long computation for ckpt to checkpoint midway, in a JVM (tests/README.md,
 * "real"); run as a source file: java HashChain.java FILE TOTAL READY
 *
 * The same protocol as hash_chain.py: appends TOTAL lines "STEP HASH" to FILE,
 * HASH = sha256("PREVIOUS STEP") with PREVIOUS starting as 64 zeros, prints
 * "ready" after step READY, from then on reads one line from stdin before
 * each step, and prints "done" at the end.  The JVM runs its usual threads
 * (compiler, garbage collector, signal dispatcher, ...) meanwhile.
 */
import java.io.BufferedReader;
import java.io.FileWriter;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

public class HashChain {
    static String hex(byte[] digest) {
        StringBuilder text = new StringBuilder();
        for (byte value : digest)
            text.append(String.format("%02x", value));
        return text.toString();
    }

    public static void main(String[] args) throws Exception {
        int total = Integer.parseInt(args[1]);
        int ready = Integer.parseInt(args[2]);
        BufferedReader input = new BufferedReader(new InputStreamReader(System.in));
        MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
        String previous = "0".repeat(64);

        try (Writer chain = new FileWriter(args[0], true)) {
            for (int step = 1; step <= total; step++) {
                if (step > ready && input.readLine() == null) {
                    System.out.println("stdin ended before step " + step);
                    System.exit(1);
                }
                byte[] text = (previous + " " + step).getBytes(StandardCharsets.UTF_8);
                previous = hex(sha256.digest(text));
                chain.write(step + " " + previous + "\n");
                chain.flush();
                if (step == ready)
                    System.out.println("ready");
            }
        }
        System.out.println("done");
    }
}
