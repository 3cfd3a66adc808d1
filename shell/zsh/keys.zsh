# caro doctor's question to zsh (src/shell/shell-checks.ts): run as a terminal starts zsh, after
# the user's rc files, it writes what caro's keys do to the file named in $CARO_DOCTOR_OUT: a few
# "name value" lines, "---", then zsh's own binding list for the keymap the prompt starts in.
# The rc files' aliases apply here, so every command is \builtin.
{
  \builtin print -r -- "loaded $(( ${+functions[_caro_widget]} ))"
  \builtin print -r -- "key ${_caro_key-}"
  \builtin print -r -- "explain ${_caro_explain_key-}"
  \builtin print -r -- "keymap ${${(z)$(\builtin bindkey -lL main)}[3]}"
  \builtin print -r -- ---
  \builtin bindkey -M main
} >| "$CARO_DOCTOR_OUT" 2>/dev/null
\builtin exit 0
