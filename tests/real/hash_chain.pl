# A long computation for ckpt to checkpoint midway (tests/README.md, "real").
#
# Usage: perl hash_chain.pl FILE TOTAL READY
#
# Appends TOTAL lines "STEP HASH" to FILE, HASH = sha256("PREVIOUS STEP") with
# PREVIOUS starting as 64 zeros.  After step READY it prints "ready"; from then
# on every step first reads one line from stdin, so the harness sets the pace.
# At the end it prints "done".
use strict;
use warnings;
use Digest::SHA qw(sha256_hex);
use IO::Handle;

my ($path, $total, $ready) = @ARGV;
open(my $chain, '>>', $path) or die "open $path: $!";
$chain->autoflush(1);
STDOUT->autoflush(1);

my $previous = '0' x 64;
for my $step (1 .. $total) {
    if ($step > $ready) {
        my $line = <STDIN>;
        if (!defined $line) {
            print "stdin ended before step $step\n";
            exit 1;
        }
    }
    $previous = sha256_hex("$previous $step");
    print {$chain} "$step $previous\n";
    print "ready\n" if $step == $ready;
}
close($chain) or die "close: $!";
print "done\n";
exit 0;
