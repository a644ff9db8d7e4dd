#!/bin/sh
# Writes a man page (roff) on standard output from the program's own help text, so the
# pages say what --help says:
#
#     scripts/manpage.sh build/release/knseg          knseg.1: the commands
#     scripts/manpage.sh build/release/knseg train    knseg-train.1: `knseg train --help`
#
# The help text's shape (app/options.c): "usage: " lines, a description, then option
# lines "  --name ARG   text" with continuations indented further and "heading:" lines.
set -eu
prog=$1
cmd=${2:-}
version=$("$prog" --version | sed 's/^knseg //')
if [ -z "$cmd" ]; then
	"$prog" --help | awk -v version="$version" '
	function esc(s) { gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s); return s }
	BEGIN {
		print ".TH KNSEG 1 \"\" \"knseg " version "\" \"knseg manual\""
		print ".SH NAME"
		print "knseg \\- semantic segmentation with kernel\\-normalized networks"
		print ".SH SYNOPSIS"
		print ".B knseg"
		print ".I command"
		print "[options]"
		print ".br"
		print ".B knseg"
		print "\\-\\-version | \\-\\-help"
		print ".SH COMMANDS"
	}
	/^commands:/ { incmd = 1; next }
	incmd && /^  [a-z]/ {
		name = $1; sub(/^  [a-z]+ +/, "")
		if (name == "version") { next }
		print ".TP"
		print ".B knseg\\-" name
		print esc($0)
		see = see (see == "" ? "" : ",\n") ".BR knseg\\-" name " (1)"
		next
	}
	incmd && /^$/ { incmd = 0 }
	END {
		print ".PP"
		print "\\fBknseg\\fR \\fIcommand\\fR \\fB\\-\\-help\\fR describes a command'"'"'s options;"
		print "so does its page, knseg\\-\\fIcommand\\fR(1)."
		print ".SH SEE ALSO"
		print see
	}'
	exit 0
fi
desc=$("$prog" --help | awk -v c="$cmd" '$1 == c { sub(/^  [a-z]+ +/, ""); print; exit }')
"$prog" "$cmd" --help | awk -v cmd="$cmd" -v version="$version" -v desc="$desc" '
function esc(s) { gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s); sub(/^[.'"'"']/, "\\\\&&", s); return s }
BEGIN {
	up = toupper(cmd)
	print ".TH KNSEG\\-" up " 1 \"\" \"knseg " version "\" \"knseg manual\""
	print ".SH NAME"
	print "knseg\\-" cmd " \\- " esc(desc)
	state = "usage"
}
state == "usage" && /^usage: / {
	print ".SH SYNOPSIS"
	print ".nf"
	sub(/^usage: /, ""); print esc($0); next
}
state == "usage" && /^ / { sub(/^ +/, "        "); print esc($0); next }
state == "usage" && /^$/ { print ".fi"; print ".SH DESCRIPTION"; state = "desc"; next }
state == "desc" && /^  -/ { print ".SH OPTIONS"; state = "opts" }
state == "desc" && /^$/ { print ".PP"; next }
state == "desc" { print esc($0); next }
state == "opts" && /^  -/ {
	line = $0; sub(/^  /, "", line)
	n = match(line, /   +/)
	if (n) { opt = substr(line, 1, n - 1); text = substr(line, n); sub(/^ +/, "", text) }
	else { opt = line; text = "" }
	print ".TP"
	k = index(opt, " ")
	if (k) print ".BI \"" esc(substr(opt, 1, k - 1)) " \" " esc(substr(opt, k + 1))
	else print ".B " esc(opt)
	if (text != "") print esc(text)
	next
}
state == "opts" && /^    / { sub(/^ +/, ""); print esc($0); next }
state == "opts" && /^[^ ].*:$/ { sub(/:$/, ""); print ".SS " esc($0); next }
state == "opts" && /^$/ { next }
state == "opts" { print esc($0); next }
END {
	print ".SH SEE ALSO"
	print ".BR knseg (1)"
}'
