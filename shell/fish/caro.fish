# caro for fish: Ctrl-G turns the line you typed into a shell command, in place.
# Load it with:  caro init fish | source
# It defines only _caro-prefixed names and can be loaded twice.

function _caro_client
    @CARO_CLIENT@ widget fish $argv[1] </dev/null
end

# fish 4 appends to history with a builtin; fish 3 reads `history append` as a search, so there
# the entry goes into the history file the way fish writes it, and is merged into this session.
function _caro_remember --argument-names typed
    if not string match -qr '^[0-3]\.' -- $version
        builtin history append -- $typed
        return
    end
    set -q fish_history; or set -l fish_history fish
    test -n "$fish_history"; or return # an empty fish_history turns history off
    set -l dir ~/.local/share/fish
    set -q XDG_DATA_HOME; and set dir $XDG_DATA_HOME/fish
    set -l escaped (string replace -a -- '\\' '\\\\' $typed | string replace -a -- \n '\\n' | string collect)
    # Private mode (fish --private, --no-config) keeps no history: nothing to add to.
    status is-interactive; and not set -q fish_private_mode; or return
    mkdir -p $dir
    and printf '%s\n' "- cmd: $escaped" "  when: "(date +%s) >>$dir/$fish_history"_history"
    and builtin history merge 2>/dev/null
end

function _caro_widget
    set -l typed (commandline | string collect)
    if string match -qr '^\s*$' -- "$typed"
        return 0
    end
    set -l out (_caro_client "$typed" | string collect)
    set -l rc $pipestatus[1]
    set -l parts (string split -m 1 \n -- "$out")
    set -l message $parts[1]
    if test "$rc" -eq 0; and test (count $parts) -eq 2
        _caro_remember "$typed"
        commandline -r -- $parts[2]
        commandline -C (string length -- $parts[2])
    else if test -z "$message"
        set message "caro: failed (exit $rc)"
    end
    if test -n "$message"
        printf '\r\033[2K%s\n' "$message" >/dev/tty
    end
    commandline -f repaint
end
@CARO_BIND@
