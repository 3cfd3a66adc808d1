# The shell's side of the session client (src/shell/session.ts, src/shell/contract.ts), shared by
# zsh and bash: `caro init` writes this file into both. It is written in what the two shells share.
# zsh runs it under `emulate -L zsh` (set by the widget that calls it); bash under the user's
# options (set -e, -u), so every step that may fail is checked, and a `\builtin local a=$b` would
# split $b, so locals are declared first and assigned after. Each shell defines three hooks:
# _caro_request_env (the waiting process's pid and the forwarded variables), _caro_request_context
# (its history and the names of its functions and aliases) and _caro_session_start.

# Whether pid $1 is this user's session client for the folder $2: not a pid reused by another
# process, a zombie, or another user's process. Builtins only: it runs while a Ctrl-G waits.
_caro_session_ours() {
  \builtin local word session='' folder=''
  if [[ ! -d /proc/self ]]; then
    \builtin kill -0 "$1" 2>/dev/null
    \builtin return
  fi
  [[ -O /proc/$1 ]] || \builtin return 1
  while IFS= \builtin read -r -d '' word; do
    if [[ $word == session ]]; then session=1; fi
    if [[ $word == "$2" ]]; then folder=1; fi
  done 2>/dev/null <"/proc/$1/cmdline"
  [[ -n $session && -n $folder ]]
}

# Whether process $1 is stopped (SIGSTOP): it cannot answer until something else wakes it.
_caro_session_stopped() {
  \builtin local stat
  \builtin read -r stat 2>/dev/null <"/proc/$1/stat" && [[ ${stat##*\) } == [Tt]* ]]
}

# Sets the caller's `pid` to the session client's, (re)starting it when it is not there; fails when
# it cannot be started. No command substitution: a fork per keystroke costs a millisecond.
_caro_session_pid() {
  \builtin local dir req rep
  dir=$1 req=$1/@CARO_REQUEST_FIFO@ rep=$1/@CARO_REPLY_FIFO@
  pid=''
  if [[ -p $req && -p $rep && -O $req && -O $dir && ! -L $dir ]] &&
    \builtin read -r pid 2>/dev/null <"$dir/@CARO_PID_FILE@" && [[ -n $pid && $pid != *[!0-9]* ]] &&
    _caro_session_ours "$pid" "$dir"; then
    \builtin return 0
  fi
  # mkdir makes the folder 0700 or fails; one already there must be this user's (the client checks its mode).
  if ! \command mkdir -m 700 -- "$dir" 2>/dev/null && ! [[ -d $dir && -O $dir && ! -L $dir ]]; then
    \builtin return 1
  fi
  # Fresh FIFOs: a client killed mid-request may have left bytes in the old ones.
  if ! \command rm -f -- "$req" "$rep" "$dir/@CARO_PID_FILE@" "$dir/@CARO_TTY_FILE@" ||
    ! \command mkfifo -m 600 -- "$req" "$rep"; then
    \builtin return 1
  fi
  # The terminal as the line editor has it: what to give back if a client is ended holding it raw.
  \command stty -g 2>/dev/null </dev/tty >|"$dir/@CARO_TTY_FILE@" || :
  _caro_session_start "$dir"
  \builtin read -r pid <"$dir/@CARO_PID_FILE@"
}

# Ends a session client that stopped answering and gives the terminal back as the line editor had
# it (the client may have been stopped holding it raw); the next Ctrl-G starts a new one.
_caro_session_drop() {
  \builtin local dir pid waiter state
  dir=$1 pid=$2 waiter=$3
  \builtin kill -KILL "$pid" 2>/dev/null || :
  \command rm -f -- "$dir/@CARO_PID_FILE@" "$dir/@CARO_REQUEST_FILE@.$waiter"
  if \builtin read -r state 2>/dev/null <"$dir/@CARO_TTY_FILE@" && [[ -n $state ]]; then
    \command stty "$state" 2>/dev/null </dev/tty || :
  fi
}

# Reads one line from fd $1 into the caller's `line`, waiting 0.2 s at most; fails on a timeout.
# A bash read that times out mid-line keeps what it took and the pipe loses it: the caller's
# `partial` keeps it for the next call, which completes the line (measured: a few lines in a
# thousand, on a busy machine). zsh's read leaves `part` as it was, so it starts empty.
_caro_read_line() {
  \builtin local part=''
  if IFS= \builtin read -r -t 0.2 -u "$1" part; then
    line=$partial$part partial=''
    \builtin return 0
  fi
  partial+=$part
  \builtin return 1
}

# Sets the caller's `wanted` to how many history lines to send: as many as the config has the
# daemon use, as the session client last read it (it writes the folder $1's wants file), else as
# caro init read it. With 0, the default, the history is not even read.
_caro_history_wanted() {
  # The group takes the error of a file not there yet: zsh reports a failed redirection before the
  # command's own 2>/dev/null applies.
  if ! { \builtin read -r wanted <"$1/@CARO_WANTS_FILE@"; } 2>/dev/null || [[ -z $wanted || $wanted == *[!0-9]* ]]; then
    wanted=@CARO_HISTORY@
  fi
}

# `_caro_client <widget args>` prints what `caro widget <shell> <widget args>` prints, with its exit
# status: through the session client when there is one, else (or when it dies) by starting caro.
# It runs in the widget's command substitution: the umask it sets ends with it.
_caro_client() {
  \builtin local dir pid waiter line partial rc out heard quiet why wanted
  \builtin local -a env fields history_lines shell_names
  dir=${_caro_session_dir-} pid='' waiter='' partial='' heard='' quiet=0 why='' wanted=0
  env=() history_lines=() shell_names=()
  if [[ -n $dir ]] && _caro_request_env && _caro_session_pid "$dir"; then
    _caro_history_wanted "$dir"
    _caro_request_context "$dir" "$wanted"
    # No field may hold a NUL, the request's separator, or a pasted line could add a variable of
    # its own (CARO_CONFIG=…) to the request: a zsh string may hold one (a bash string cannot).
    fields=("$PWD" "${#history_lines[@]}" "${history_lines[@]}" "${#shell_names[@]}" "${shell_names[@]}")
    fields+=("$#" "$@" "${#env[@]}" "${env[@]}")
    \builtin umask 077
    \builtin printf '%s\0' "${fields[@]//$'\0'/}" >|"$dir/@CARO_REQUEST_FILE@.$waiter"
    {
      \builtin printf '%s\n' "$waiter" >&8
      # Read-write opens never block; the reply is waited for only while the client is there. It
      # says "alive" at once and every second while it works; silence (in 0.2 s steps) ends it.
      while :; do
        if _caro_read_line 9; then
          if [[ $line == "$waiter" ]]; then
            \builtin break
          fi
          heard=1 quiet=0
          \builtin continue
        fi
        if ! _caro_session_ours "$pid" "$dir" && [[ -n $heard || ! -O /proc/$pid ]]; then
          # Gone, or its pid taken by another process. Before it is heard, a client started now
          # may not be caro yet (forked, not yet exec'd): there only its going counts.
          pid=''
          \builtin break
        else
          ((++quiet))
          if _caro_session_stopped "$pid"; then
            ((quiet < 15)) || why="is stopped (SIGSTOP) and did not answer for 3 s"
          elif [[ -n $heard ]]; then
            ((quiet < 50)) || why="stopped answering for 10 s (stuck)"
          else
            # Not heard yet: a client started now may take long to load Node on a busy machine.
            ((quiet < 300)) || why="did not answer for 60 s (stuck)"
          fi
          if [[ -n $why ]]; then
            _caro_session_drop "$dir" "$pid" "$waiter"
            \builtin printf '%s' "caro: the session client (pid $pid) $why: it was ended; Ctrl-G starts a new one"
            \builtin return 1
          fi
        fi
      done
    } 8<>"$dir/@CARO_REQUEST_FIFO@" 9<>"$dir/@CARO_REPLY_FIFO@"
    if [[ -n $pid ]] &&
      { IFS= \builtin read -r -d '' rc && IFS= \builtin read -r -d '' out; } <"$dir/@CARO_REPLY_FILE@"; then
      \builtin printf '%s' "$out"
      \builtin return "$rc"
    fi
  fi
  @CARO_CLIENT@ widget @CARO_SHELL@ "$@" </dev/null
}
