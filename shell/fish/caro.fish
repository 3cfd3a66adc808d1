# caro for fish: Ctrl-G turns the line you typed into a shell command, in place.
# Load it with:  caro init fish | source
# It defines only _caro-prefixed names and can be loaded twice.
# A user's function may shadow a builtin or a command of the same name (alias makes such
# functions), so those not reserved by fish go through `builtin` or `command`.

# One long-lived client per shell session (`caro session`, src/shell/session.ts) answers Ctrl-G,
# so no Node starts per keystroke. Its private folder is named now and made on the first Ctrl-G.
if not set -q _caro_session_dir
    set -l base /tmp
    if set -q XDG_RUNTIME_DIR; and builtin string match -q '/*' -- "$XDG_RUNTIME_DIR"; and test -d "$XDG_RUNTIME_DIR"
        set base $XDG_RUNTIME_DIR
    end
    set -g _caro_session_dir $base/@CARO_SESSION_PREFIX@(command id -u)-$fish_pid-(random)(random)
end

# Whether pid $pid is this user's session client for the folder $dir: not a pid reused by another
# process, a zombie, or another user's process. Builtins only: it runs while a Ctrl-G waits.
function _caro_session_ours --argument-names pid dir
    if not test -d /proc/self
        command kill -0 $pid 2>/dev/null
        return
    end
    test -O /proc/$pid; or return 1
    set -l words (builtin string split0 </proc/$pid/cmdline 2>/dev/null)
    builtin contains -- session $words; and builtin contains -- $dir $words
end

# fish's job control as it is now: what to give back after starting something in the background
# without it (so that it stays in fish's process group, and fish gives no job notice).
function _caro_job_control
    if status is-full-job-control
        builtin echo full
    else if status is-interactive-job-control
        builtin echo interactive
    else
        builtin echo none
    end
end

# Whether process $pid is stopped (SIGSTOP): it cannot answer until something else wakes it.
function _caro_session_stopped --argument-names pid
    test -r /proc/$pid/stat; or return 1
    builtin read -l stat </proc/$pid/stat
    builtin string match -qr '\) [Tt] [^)]*$' -- "$stat"
end

# The session client's pid, (re)started when it is not there; fails when it cannot be started.
function _caro_session_pid --argument-names dir
    set -l pid
    set -l req $dir/@CARO_REQUEST_FIFO@
    set -l rep $dir/@CARO_REPLY_FIFO@
    if test -p $req -a -p $rep -a -O $dir -a -O $req; and not test -L $dir
        test -r $dir/@CARO_PID_FILE@; and builtin read pid <$dir/@CARO_PID_FILE@
        if builtin string match -qr '^[0-9]+$' -- "$pid"; and _caro_session_ours $pid $dir
            builtin echo $pid
            return 0
        end
    end
    # mkdir makes the folder 0700 or fails; one already there must be this user's (the client
    # checks its mode).
    if not command mkdir -m 700 -- $dir 2>/dev/null
        test -d $dir -a -O $dir; and not test -L $dir; or return 1
    end
    # Fresh FIFOs: a client killed mid-request may have left bytes in the old ones.
    command rm -f -- $req $rep $dir/@CARO_PID_FILE@; and command mkfifo -m 600 -- $req $rep; or return 1
    # Without job control: the client stays in fish's process group, which owns the terminal while the
    # widget runs, so it can take the keys (Ctrl-C cancels) as the one-shot client does.
    set -l control (_caro_job_control)
    status job-control none
    @CARO_CLIENT@ session fish $dir $fish_pid </dev/null >/dev/null 2>&1 &
    set pid $last_pid
    builtin disown $pid 2>/dev/null
    status job-control $control
    builtin echo $pid >$dir/@CARO_PID_FILE@
    builtin echo $pid
end

# fish's read has no timeout. This gives the wait below a line, "late <nonce>", 3 s from now, so a
# client that stopped answering is noticed. Meanwhile it holds both FIFOs open (fish has no
# read-write redirection), so that no open there blocks even when the client is gone, and the
# request's line stays in `req` until a client just started opens it (a FIFO nobody holds drops
# its bytes): it lingers 2 s after its line, until the next watch holds them.
function _caro_session_watch --argument-names dir nonce
    set -l control (_caro_job_control)
    status job-control none
    command sh -c 'exec 3<>"$1/@CARO_REQUEST_FIFO@" 1<>"$1/@CARO_REPLY_FIFO@" && sleep 3 && echo "late $2" && sleep 2' \
        caro-watch $dir $nonce </dev/null >/dev/null 2>&1 &
    builtin disown $last_pid 2>/dev/null
    status job-control $control
end

# Ends a session client that stopped answering; the next Ctrl-G starts a new one. fish gives the
# terminal its own modes back after every binding, so a client stopped holding it raw leaves nothing.
function _caro_session_drop --argument-names dir pid
    command kill -KILL $pid 2>/dev/null
    command rm -f -- $dir/@CARO_PID_FILE@ $dir/@CARO_REQUEST_FILE@.$fish_pid
end

# `_caro_client <widget args>` prints what `caro widget fish <widget args>` prints, with its exit
# status: through the session client when there is one, else (or when it dies) by starting caro.
function _caro_client
    set -l dir $_caro_session_dir
    set -l pid (_caro_session_pid $dir)
    if test -n "$pid"
        # Only what the client forwards to the daemon (src/client/forwarded.ts), as exported now.
        set -l env
        for name in (set -nx)
            builtin string match -qr -- @CARO_FORWARDED@ $name; or continue
            if builtin string match -q '*PATH' -- $name
                set -a env "$name="(builtin string join : -- $$name)
            else
                set -a env "$name="(builtin string join ' ' -- $$name)
            end
        end
        # The last history entries, oldest first, as many as the config has the daemon use (the
        # session client writes that number; until then, caro init's), none by default; and the
        # names of the functions (aliases among them) that need no program. fish's own builtins.
        set -l wanted @CARO_HISTORY@
        test -r $dir/@CARO_WANTS_FILE@; and builtin read wanted <$dir/@CARO_WANTS_FILE@
        builtin string match -qr '^[0-9]+$' -- "$wanted"; or set wanted @CARO_HISTORY@
        set -l hist
        if test $wanted -gt 0
            set hist (builtin history search --max $wanted --null 2>/dev/null | builtin string split0)
            set hist $hist[-1..1]
        end
        set -l names (builtin functions --names)
        # 0600: it may hold an API key. fish strings end at a NUL (the request's separator), so no
        # field can spill into the next.
        set -l umask_was $umask
        set -g umask 0077
        builtin printf '%s\0' $PWD (builtin count $hist) $hist (builtin count $names) $names \
            (builtin count $argv) $argv (builtin count $env) $env >$dir/@CARO_REQUEST_FILE@.$fish_pid
        set -g umask $umask_was
        # The client says "alive" at once and every second while it works; the watch says "late"
        # every 3 s. Silence through a watch period ends a stopped client; through three, one that
        # was heard (stuck); through twenty, one never heard (a client started now may take long
        # to load Node on a busy machine).
        set -l nonce (random)
        set -l heard 0
        set -l spoke 0
        set -l silent 0
        _caro_session_watch $dir $nonce
        builtin echo $fish_pid >$dir/@CARO_REQUEST_FIFO@
        while builtin read -l line <$dir/@CARO_REPLY_FIFO@
            switch $line
                case $fish_pid
                    set -l rc
                    set -l out
                    begin
                        builtin read -z rc
                        builtin read -z out
                    end <$dir/@CARO_REPLY_FILE@
                    builtin printf '%s' "$out"
                    return $rc
                case "late $nonce"
                    # Gone, or its pid taken by another process. Before it is heard, a client
                    # started now may not be caro yet (forked, not yet exec'd): only its going counts.
                    if not _caro_session_ours $pid $dir
                        test $heard = 1; or not test -O /proc/$pid; and break
                    end
                    if test $spoke = 1
                        set silent 0
                    else
                        set silent (builtin math $silent + 1)
                    end
                    set -l why
                    if test $silent -ge 1; and _caro_session_stopped $pid
                        set why "is stopped (SIGSTOP) and did not answer for 3 s"
                    else if test $silent -ge 3 -a $heard = 1
                        set why "stopped answering for 9 s (stuck)"
                    else if test $silent -ge 20
                        set why "did not answer for 60 s (stuck)"
                    end
                    if test -n "$why"
                        _caro_session_drop $dir $pid
                        builtin printf '%s' "caro: the session client (pid $pid) $why: it was ended;" \
                            " Ctrl-G starts a new one"
                        return 1
                    end
                    set spoke 0
                    _caro_session_watch $dir $nonce
                case 'late *'
                    # An earlier wait's watch.
                case '*'
                    set heard 1
                    set spoke 1
            end
        end
    end
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
    if builtin contains -- "$rc" @CARO_EXIT_ANSWERED@ @CARO_EXIT_TYPED_KEYS_ONLY@; and test (builtin count $parts) -eq 2
        if test "$rc" -eq @CARO_EXIT_ANSWERED@; and test "$args[1]" = --shown
            set -g -a _caro_shown $parts[2]
        else if test "$rc" -eq @CARO_EXIT_ANSWERED@
            # The request goes into history so it can be recalled; undo brings it back too.
            builtin string match -qr '^\s*$' -- "$typed"; or _caro_remember "$typed"
            set -g _caro_request $args
            set -g _caro_shown $parts[2]
        end
        builtin commandline -r -- $parts[2]
        builtin commandline -C (builtin string length -- $parts[2])
    else if test -z "$message"; and test "$rc" -ne @CARO_EXIT_NOTHING_TO_DO@
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

# caro init writes in the bind switch (1, or 0 under --no-bind), the modes, and the keys in fish
# 3's notation (\cg) and in fish 4's (ctrl-g).
if test @CARO_BIND@ = 1; and not set -q _caro_bound
    set -g _caro_bound 1
    set -g _caro_key @CARO_KEY_NAME@
    set -g _caro_explain_key @CARO_EXPLAIN_KEY_NAME@
    for _caro_mode in @CARO_KEYMAPS@
        if builtin string match -qr '^[0-3]\.' -- $version
            builtin bind -M $_caro_mode @CARO_KEY@ _caro_widget
            builtin bind -M $_caro_mode @CARO_EXPLAIN_KEY@ _caro_explain_widget
        else
            builtin bind -M $_caro_mode @CARO_KEY_FISH4@ _caro_widget
            builtin bind -M $_caro_mode @CARO_EXPLAIN_KEY_FISH4@ _caro_explain_widget
        end
    end
    set -e _caro_mode
end

# caro init writes in the start switch (1, or 0 under --no-start or [daemon] start_on_init = false):
# the daemon starts and loads the model in the background while the shell starts, so the first Ctrl-G
# is warm. sh puts it in the background and exits at once, so it is never fish's job (no notice).
if test @CARO_START@ = 1
    command sh -c '"$@" </dev/null >/dev/null 2>&1 &' caro-start @CARO_CLIENT@ daemon start --background \
        --shell @CARO_SHELL@
end
