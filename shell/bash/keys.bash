# caro doctor's question to bash (src/shell/shell-checks.ts): run as a terminal starts bash, after
# the user's rc files, it writes what caro's keys do to the file named in $CARO_DOCTOR_OUT: a few
# "name value" lines, "---", then readline's binding lists for the keymap the prompt starts in.
# The rc files' aliases apply here, so every command is \builtin.
{
  if \builtin declare -F _caro_widget >/dev/null; then \builtin echo "loaded 1"; else \builtin echo "loaded 0"; fi
  \builtin echo "key ${_caro_key-}"
  \builtin echo "explain ${_caro_explain_key-}"
  if [[ -o vi ]]; then _caro_doctor_keymap=vi-insert; else _caro_doctor_keymap=emacs; fi
  \builtin echo "keymap $_caro_doctor_keymap"
  \builtin echo ---
  # bind -x first, then macros, then functions: the first listed for a key is what it does.
  \builtin bind -m "$_caro_doctor_keymap" -X
  \builtin bind -m "$_caro_doctor_keymap" -s
  \builtin bind -m "$_caro_doctor_keymap" -p
} >|"$CARO_DOCTOR_OUT" 2>/dev/null
\builtin exit 0
