# ckpt inspect --json follows doc/inspect.schema.json exactly: real output of
# a single process, threaded ones, files, event fds, sockets and trees (one
# with zombies) validates (tests/tools/json_schema_check.py: every object
# closed, every field required), a document with one field more, one less
# or a wrong enum value does not, and doc/inspect-json.md names every field.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
checker=tests/tools/json_schema_check.py
schema=doc/inspect.schema.json
programs=(mem_anon thread_two fd_regular fd_timerfd fd_signalfd tree_shared_events tree_socketpair tree_zombie)

documents=()
for program in "${programs[@]}"; do
	start_state_program "$program"
	"$CKPT" checkpoint -o "$case_dir/$program.image" "$target_pid" 2>"$case_dir/stderr" ||
		fail "checkpoint $program: $(head -1 "$case_dir/stderr")"
	"$CKPT" inspect --json "$case_dir/$program.image" >"$case_dir/$program.json" 2>"$case_dir/stderr" ||
		fail "inspect --json $program: $(head -1 "$case_dir/stderr")"
	documents+=("$case_dir/$program.json")
	expect_pass "$target_pid" "$target_out" "$target_in"
	exec {target_in}>&- {target_out}<&-
	wait "$target_pid"
done
python3 "$checker" "$schema" "${documents[@]}" >"$case_dir/problems" ||
	fail "inspect --json does not follow $schema: $(head -3 "$case_dir/problems" | tr '\n' ' ')"

# The output covers what the schema allows: several processes, zombies, event fds.
python3 - "${documents[@]}" >"$case_dir/coverage" <<'PY' || fail "output lacks $(cat "$case_dir/coverage")"
import json, sys
seen = set()
for path in sys.argv[1:]:
    document = json.load(open(path))
    seen |= {"tree of %d" % min(len(document["tree"]), 2)}
    seen |= {"state " + entry["state"] for entry in document["tree"]}
    seen |= {"fd " + fd["kind"] for p in document["processes"] for fd in p["fds"]}
    seen |= {"threads %d" % min(p["process"]["threads"], 2) for p in document["processes"]}
wanted = {"tree of 2", "state zombie", "threads 2", "fd file", "fd eventfd", "fd epoll",
          "fd timerfd", "fd signalfd", "fd unix-socket", "fd pipe"}
missing = wanted - seen
print(" ".join(sorted(missing)))
sys.exit(1 if missing else 0)
PY

# The checker refuses what the schema does not say.
mutate() {
	python3 - "$case_dir/mem_anon.json" "$case_dir/mutated.json" "$1" <<'PY'
import json, sys
document = json.load(open(sys.argv[1]))
how = sys.argv[3]
if how == "extra":
    document["processes"][0]["threads"][0]["new_field"] = 1
elif how == "missing":
    del document["totals"]["pages"]
elif how == "enum":
    document["processes"][0]["vmas"][0]["kind"] = "mystery"
elif how == "type":
    document["tree"][0]["pid"] = "1"
json.dump(document, open(sys.argv[2], "w"))
PY
}
for how in extra missing enum type; do
	mutate "$how" || fail "cannot make the $how document"
	python3 "$checker" "$schema" "$case_dir/mutated.json" >"$case_dir/problems" &&
		fail "the checker accepts a document with a $how field"
	grep -q . "$case_dir/problems" || fail "the checker names no problem for the $how document"
done

# Every field of the schema is described in doc/inspect-json.md.
python3 - "$schema" doc/inspect-json.md >"$case_dir/undocumented" <<'PY' || fail "doc/inspect-json.md lacks $(cat "$case_dir/undocumented")"
import json, sys
schema, text = json.load(open(sys.argv[1])), open(sys.argv[2]).read()
names = set()
def walk(node):
    for name, sub in node.get("properties", {}).items():
        names.add(name)
        walk(sub)
    if "items" in node:
        walk(node["items"])
walk(schema)
missing = sorted(name for name in names if "`%s`" % name not in text)
print(" ".join(missing))
sys.exit(1 if missing else 0)
PY
exit 0
