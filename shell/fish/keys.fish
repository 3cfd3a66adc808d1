# caro doctor's question to fish (src/shell/shell-checks.ts): run as a terminal starts fish, after
# config.fish, it writes what caro's keys do to the file named in $CARO_DOCTOR_OUT: a few
# "name value" lines, "---", then fish's own binding list. fish sets up its key bindings
# (fish_user_key_bindings included) as its first prompt draws, so it asks then.
function __caro_doctor_report --on-event fish_prompt
    begin
        if builtin functions -q _caro_widget
            builtin echo "loaded 1"
        else
            builtin echo "loaded 0"
        end
        builtin echo "key $_caro_key"
        builtin echo "explain $_caro_explain_key"
        builtin echo "keymap $fish_bind_mode"
        builtin echo ---
        builtin bind -a
    end >$CARO_DOCTOR_OUT 2>/dev/null
    builtin exit 0
end
