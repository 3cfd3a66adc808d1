# caro for fish: Ctrl-G turns the line you typed into a shell command, in place.
# Load it with:  caro init fish | source
# It defines only _caro-prefixed names and can be loaded twice.
# A user's function may shadow a builtin or a command of the same name (alias makes such
# functions), so those not reserved by fish go through `builtin` or `command`.

function _caro_client
    @CARO_CLIENT@ widget fish $argv[1] </dev/null
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
    if builtin string match -qr '^\s*$' -- "$typed"
        return 0
    end
    # caro draws "thinking" and the command as it streams in, in place of the prompt line.
    set -l out (_caro_client "$typed" | builtin string collect)
    set -l rc $pipestatus[1]
    set -l parts (builtin string split -m 1 \n -- "$out")
    set -l message $parts[1]
    if test "$rc" -eq 0; and test (builtin count $parts) -eq 2
        _caro_remember "$typed"
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

# caro init writes in the bind switch (1, or 0 under --no-bind) and the key, in fish 3's notation
# (\cg) and in fish 4's (ctrl-g).
if test @CARO_BIND@ = 1; and not set -q _caro_bound
    set -g _caro_bound 1
    if builtin string match -qr '^[0-3]\.' -- $version
        builtin bind @CARO_KEY@ _caro_widget
        builtin bind -M insert @CARO_KEY@ _caro_widget
    else
        builtin bind @CARO_KEY_FISH4@ _caro_widget
        builtin bind -M insert @CARO_KEY_FISH4@ _caro_widget
    end
end

# caro init writes in the start switch (1, or 0 under --no-start or [daemon] start_on_init = false):
# the daemon starts and loads the model in the background while the shell starts, so the first Ctrl-G
# is warm. sh puts it in the background and exits at once, so it is never fish's job (no notice).
if test @CARO_START@ = 1
    command sh -c '"$@" </dev/null >/dev/null 2>&1 &' caro-start @CARO_CLIENT@ daemon start --background \
        --shell @CARO_SHELL@
end
