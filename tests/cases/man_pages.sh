# The man pages render without warnings (man --warnings), and ckpt(1)
# documents every command and every long option the CLI accepts (taken from
# the sources: getopt_long tables and "--option" literals in src/cli/*.c).
source "$(dirname "$0")/lib.bash"

root=$(cd "$(dirname "$0")/../.." && pwd)
command -v man >/dev/null || skip "man is not installed (man-db)"

check_renders_cleanly() {
	local page=$1 warnings
	[ -s "$page" ] || fail "$page is missing"
	warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
	[ -z "$warnings" ] || fail "man --warnings ${page#"$root"/}: $(head -3 <<<"$warnings")"
}

# Long options of the CLI, one a line.
cli_long_options() {
	cat "$root"/src/cli/*.c |
		sed -n -e 's/.*{ *"\([a-z][a-z0-9-]*\)", *\(no\|required\|optional\)_argument.*/\1/p' \
			-e 's/.*"--\([a-z][a-z0-9-]*\)".*/\1/p' |
		sort -u
}

# Command names of the table in src/cli/main.c.
cli_commands() {
	grep -o '{ *"[a-z][a-z-]*", *command_' "$root/src/cli/main.c" | sed 's/{ *"\([^"]*\)".*/\1/' | sort -u
}

for page in ckpt.1 ckpt-image.5 libckpt.3; do
	check_renders_cleanly "$root/man/$page"
done

# The page's text with \- as - and font changes dropped.
text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$root/man/ckpt.1")
options=$(cli_long_options)
[ "$(wc -l <<<"$options")" -ge 5 ] || fail "found only these options in src/cli: $options"
missing=""
for option in $options; do
	grep -qE -- "(^|[^a-z-])--$option([^a-z-]|\$)" <<<"$text" || missing+=" --$option"
done
for command in $(cli_commands); do
	grep -qE "^\.(TP|B|BI|BR) .*\b$command\b|^\.B[IR]? \"?$command" <<<"$text" || missing+=" $command"
done
[ -z "$missing" ] || fail "man/ckpt.1 does not document:$missing"
exit 0
