# caro for fish: Ctrl-G turns the line you typed into a shell command, in place.
# Load it with:  caro init fish | source
# It defines only _caro-prefixed names and can be loaded twice.
# A user's function may shadow a builtin or a command of the same name (alias makes such
# functions), so those not reserved by fish go through `builtin` or `command`.

# Its arguments are the widget's options and buffer (see src/client/widget.ts).
function _caro_client
    @CARO_CLIENT@ widget fish $argv </dev/null
end

# What caro last answered: the widget arguments of the request, and every buffer it wrote for it.
# Ctrl-G on a buffer caro wrote asks for another candidate; anything else starts afresh.
set -q _caro_shown; or set -g _caro_shown
set -q _caro_request; or set -g _caro_request
set -q _caro_failed; or set -g _caro_failed

# After each command line: when it failed, Ctrl-G on an empty line fixes it.
function _caro_postexec --on-event fish_postexec
    set -l rc $status
    if test $rc -ne 0; and test -n "$argv[1]"
        set -g _caro_failed $argv[1] $rc
    else
        set -g _caro_failed
    end
end

# fish 4 appends to history with a builtin; fish 3 reads `history append` as a search, so there
# the entry goes into the history file the way fish writes it, and is merged into this session.
function _caro_remember --argument-names typed
    if not builtin string match -qr '^[0-3]\.' -- $version
        builtin history append -- $typed
        return
    end
    set -q fish_history; or set -l fish_history fish
    test -n "$fish_history"; or return # an empty fish_history turns history off
    set -l dir ~/.local/share/fish
    set -q XDG_DATA_HOME; and set dir $XDG_DATA_HOME/fish
    set -l escaped (builtin string replace -a -- '\\' '\\\\' $typed | builtin string replace -a -- \n '\\n' \
        | builtin string collect)
    # Private mode (fish --private, --no-config) keeps no history: nothing to add to.
    status is-interactive; and not set -q fish_private_mode; or return
    command mkdir -p $dir
    and builtin printf '%s\n' "- cmd: $escaped" "  when: "(command date +%s) >>$dir/$fish_history"_history"
    and builtin history merge 2>/dev/null
end

function _caro_widget
    set -l typed (builtin commandline | builtin string collect)
    set -l args
    if builtin contains -- "$typed" $_caro_shown
        for shown in $_caro_shown
            set -a args --shown $shown
        end
        set -a args $_caro_request
    else if not builtin string match -qr '^\s*$' -- "$typed"
        set args -- "$typed"
    else if test (builtin count $_caro_failed) -eq 2
        set args --failed $_caro_failed[1] --status $_caro_failed[2] -- ""
    else
        return 0
    end
    # caro draws "thinking" and the command as it streams in, in place of the prompt line.
    set -l out (_caro_client $args | builtin string collect)
    set -l rc $pipestatus[1]
    set -l parts (builtin string split -m 1 \n -- "$out")
    set -l message $parts[1]
    if contains -- "$rc" 0 4; and test (builtin count $parts) -eq 2
        if test "$rc" -eq 0; and test "$args[1]" = --shown
            set -g -a _caro_shown $parts[2]
        else if test "$rc" -eq 0
            # The request goes into history so it can be recalled; undo brings it back too.
            builtin string match -qr '^\s*$' -- "$typed"; or _caro_remember "$typed"
            set -g _caro_request $args
            set -g _caro_shown $parts[2]
        end
        builtin commandline -r -- $parts[2]
        builtin commandline -C (builtin string length -- $parts[2])
    else if test -z "$message"
        set message "caro: failed (exit $rc)"
    end
    if test -n "$message"
        builtin printf '\r\033[2K%s\n' "$message" >/dev/tty
    end
    builtin commandline -f repaint
end

# Explains the command in the buffer below the prompt; the buffer stays as it is.
function _caro_explain_widget
    set -l typed (builtin commandline | builtin string collect)
    if builtin string match -qr '^\s*$' -- "$typed"
        return 0
    end
    set -l out (_caro_client --explain -- "$typed" | builtin string collect)
    set -l rc $pipestatus[1]
    test -n "$out"; or set out "caro: failed (exit $rc)"
    builtin printf '\r\033[2K%s\n' "$out" >/dev/tty
    builtin commandline -f repaint
end

# caro init writes in the bind switch (1, or 0 under --no-bind) and the key, in fish 3's notation
# (\cg) and in fish 4's (ctrl-g).
if test @CARO_BIND@ = 1; and not set -q _caro_bound
    set -g _caro_bound 1
    set -g _caro_key @CARO_KEY_NAME@
    set -g _caro_explain_key @CARO_EXPLAIN_KEY_NAME@
    if builtin string match -qr '^[0-3]\.' -- $version
        builtin bind @CARO_KEY@ _caro_widget
        builtin bind -M insert @CARO_KEY@ _caro_widget
        builtin bind @CARO_EXPLAIN_KEY@ _caro_explain_widget
        builtin bind -M insert @CARO_EXPLAIN_KEY@ _caro_explain_widget
    else
        builtin bind @CARO_KEY_FISH4@ _caro_widget
        builtin bind -M insert @CARO_KEY_FISH4@ _caro_widget
        builtin bind @CARO_EXPLAIN_KEY_FISH4@ _caro_explain_widget
        builtin bind -M insert @CARO_EXPLAIN_KEY_FISH4@ _caro_explain_widget
    end
end
