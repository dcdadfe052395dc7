# The layers point one way (doc/architecture.md): cli -> pipelines
# (src/checkpoint, src/restart) -> objects -> {sys, image}, with error.h,
# util.h and fault.h in src/ usable by all.  Checked on the #include "..."
# lines of src/: nothing under src/objects, src/sys or src/image includes a
# pipeline header; src/sys and src/image include nothing from src/objects;
# nothing outside src/cli includes from it; and the folders include each
# other in no cycle.
source "$(dirname "$0")/lib.bash"

root=$(cd "$(dirname "$0")/../.." && pwd)
[ -d "$root/src" ] || skip "no source tree next to the tests"
command -v python3 >/dev/null || skip "python3 is missing"

python3 - "$root" <<'EOF' || exit 1
import os, re, sys

root = sys.argv[1]
src = os.path.join(root, "src")
include_re = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
pipeline_headers = ("src/checkpoint.h", "src/restart.h")


def resolve(including, name):
    """Where the compiler finds a quoted include: beside the file, then -iquote src, then -Iinclude."""
    for base in (os.path.dirname(including), src, os.path.join(root, "include")):
        path = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(path):
            return os.path.relpath(path, root)
    return None


def folder(path):
    """src/objects/mm.c -> src/objects; src/util.h -> src; include/ckpt.h -> include."""
    parts = path.split("/")
    return "src/" + parts[1] if parts[0] == "src" and len(parts) > 2 else parts[0]


edges = {}
problems = []
for directory, _, names in os.walk(src):
    for name in sorted(names):
        if not name.endswith((".c", ".h")):
            continue
        path = os.path.join(directory, name)
        rel = os.path.relpath(path, root)
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for wanted in include_re.findall(text):
            target = resolve(path, wanted)
            if target is None:
                continue
            source_folder, target_folder = folder(rel), folder(target)
            lower = source_folder in ("src/objects", "src/sys", "src/image")
            if lower and (target in pipeline_headers or target_folder in ("src/checkpoint", "src/restart")):
                problems.append(f"{rel} includes the pipeline header {target}")
            if source_folder in ("src/sys", "src/image") and target_folder == "src/objects":
                problems.append(f"{rel} includes {target} from src/objects")
            if target_folder == "src/cli" and source_folder != "src/cli":
                problems.append(f"{rel} includes {target} from src/cli")
            if source_folder != target_folder:
                edges.setdefault(source_folder, {}).setdefault(target_folder, rel + " -> " + target)


def find_cycle():
    state = {}
    stack = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, {})):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


cycle = find_cycle()
if cycle:
    steps = [edges[a][b] for a, b in zip(cycle, cycle[1:])]
    problems.append("include cycle between folders: " + " -> ".join(cycle) + " (" + "; ".join(steps) + ")")
for problem in problems:
    print(problem)
if problems:
    print(f"{len(problems)} include rule(s) broken; see doc/architecture.md")
    sys.exit(1)
EOF
exit 0
