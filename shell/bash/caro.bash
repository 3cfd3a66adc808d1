# caro for bash: Ctrl-G turns the line you typed into a shell command, in place.
# Load it with:  eval "$(caro init bash)"
# It defines only _caro-prefixed names, can be loaded twice, and never returns from eval'd code.
# bash expands the user's aliases as it reads this file, so commands go through `builtin`; the
# widget runs under the user's options (set -e, -u, pipefail), so no step in it may fail unchecked.

# One long-lived client per shell session (`caro session`, src/shell/session.ts) answers Ctrl-G,
# so no Node starts per keystroke. Its private folder is named now and made on the first Ctrl-G.
if [[ -z ${_caro_session_dir-} ]]; then
  _caro_session_dir=/tmp
  if [[ ${XDG_RUNTIME_DIR-} == /* && -d ${XDG_RUNTIME_DIR-} ]]; then
    _caro_session_dir=$XDG_RUNTIME_DIR
  fi
  _caro_session_dir+=/@CARO_SESSION_PREFIX@$UID-$$-$RANDOM$RANDOM
fi

# Whether pid $1 is this user's session client for the folder $2: not a pid reused by another
# process, a zombie, or another user's process. Builtins only: it runs while a Ctrl-G waits.
_caro_session_ours() {
  builtin local word session='' folder=''
  if [[ ! -d /proc/self ]]; then
    builtin kill -0 "$1" 2>/dev/null
    builtin return
  fi
  [[ -O /proc/$1 ]] || builtin return 1
  while IFS= builtin read -r -d '' word; do
    if [[ $word == session ]]; then session=1; fi
    if [[ $word == "$2" ]]; then folder=1; fi
  done 2>/dev/null <"/proc/$1/cmdline"
  [[ -n $session && -n $folder ]]
}

# Whether process $1 is stopped (SIGSTOP): it cannot answer until something else wakes it.
_caro_session_stopped() {
  builtin local stat
  builtin read -r stat 2>/dev/null <"/proc/$1/stat" && [[ ${stat##*) } == [Tt]* ]]
}

# Sets the caller's `pid` to the session client's, (re)starting it when it is not there; fails when
# it cannot be started. No command substitution: a fork per keystroke costs a millisecond.
_caro_session_pid() {
  builtin local dir=$1
  pid=''
  if [[ -p $dir/@CARO_REQUEST_FIFO@ && -p $dir/@CARO_REPLY_FIFO@ && -O $dir/@CARO_REQUEST_FIFO@ && -O $dir && ! -L $dir ]] &&
    builtin read -r pid 2>/dev/null <"$dir/@CARO_PID_FILE@" && [[ $pid =~ ^[0-9]+$ ]] && _caro_session_ours "$pid" "$dir"; then
    builtin return 0
  fi
  # mkdir makes the folder 0700 or fails; one already there must be this user's (the client checks its mode).
  if ! command mkdir -m 700 -- "$dir" 2>/dev/null && ! [[ -d $dir && -O $dir && ! -L $dir ]]; then
    builtin return 1
  fi
  # Fresh FIFOs: a client killed mid-request may have left bytes in the old ones.
  command rm -f -- "$dir/@CARO_REQUEST_FIFO@" "$dir/@CARO_REPLY_FIFO@" "$dir/@CARO_PID_FILE@" "$dir/@CARO_TTY_FILE@" && command mkfifo -m 600 -- "$dir/@CARO_REQUEST_FIFO@" "$dir/@CARO_REPLY_FIFO@" ||
    builtin return 1
  # The terminal as readline has it: what to give back if a client is ended holding it in raw mode.
  command stty -g 2>/dev/null </dev/tty >|"$dir/@CARO_TTY_FILE@" || :
  # In a subshell without job control: the client stays in the shell's process group, which owns the
  # terminal while the widget runs, so it can take the keys (Ctrl-C cancels) as the one-shot client does.
  (
    builtin set +m
    @CARO_CLIENT@ session bash "$dir" "$$" </dev/null >/dev/null 2>&1 &
    builtin printf '%s\n' "$!" >|"$dir/@CARO_PID_FILE@"
  )
  builtin read -r pid <"$dir/@CARO_PID_FILE@"
}

# Ends a session client that stopped answering and gives the terminal back as readline had it (the
# client may have been stopped holding it raw); the next Ctrl-G starts a new one.
_caro_session_drop() {
  builtin local dir=$1 pid=$2 waiter=$3 state
  builtin kill -KILL "$pid" 2>/dev/null || :
  command rm -f -- "$dir/@CARO_PID_FILE@" "$dir/@CARO_REQUEST_FILE@.$waiter"
  if builtin read -r state 2>/dev/null <"$dir/@CARO_TTY_FILE@" && [[ -n $state ]]; then
    command stty "$state" 2>/dev/null </dev/tty || :
  fi
}

# `_caro_client <widget args>` prints what `caro widget bash <widget args>` prints, with its exit
# status: through the session client when there is one, else (or when it dies) by starting caro.
# It runs under the user's options (set -e, -u), so every step that may fail is checked; and in the
# widget's command substitution, so the umask it sets ends with it.
_caro_client() {
  builtin local dir pid waiter line rc out name heard='' quiet=0 why=''
  builtin local -a env
  dir=${_caro_session_dir-}
  env=()
  # ${name@a} (exported or not) needs bash 4.4.
  if [[ -n $dir ]] && ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 404)) && _caro_session_pid "$dir"; then
    # The process that waits (this command substitution): the client drops a request whose waiter is gone.
    waiter=$BASHPID
    # Only what the client forwards to the daemon (src/client/forwarded.ts), as exported now.
    for name in @CARO_FORWARDED@; do
      if [[ -n ${!name+set} && ${!name@a} == *x* ]]; then
        env+=("$name=${!name}")
      fi
    done
    # bash strings hold no NUL (the request's separator), so no field can spill into the next.
    builtin umask 077
    builtin printf '%s\0' "$PWD" "$#" "$@" "${#env[@]}" "${env[@]}" >|"$dir/@CARO_REQUEST_FILE@.$waiter"
    {
      builtin printf '%s\n' "$waiter" >&8
      # Read-write opens never block; the reply is waited for only while the client is there. It
      # says "alive" at once and every second while it works; silence (in 0.2 s steps) ends it.
      while :; do
        if IFS= builtin read -r -t 0.2 -u 9 line; then
          if [[ $line == "$waiter" ]]; then
            break
          fi
          heard=1
          quiet=0
        elif ! _caro_session_ours "$pid" "$dir" && [[ -n $heard || ! -O /proc/$pid ]]; then
          # Gone, or its pid taken by another process. Before it is heard, a client started now
          # may not be caro yet (forked, not yet exec'd): there only its going counts.
          pid=
          break
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
            builtin printf '%s' "caro: the session client (pid $pid) $why: it was ended; Ctrl-G starts a new one"
            builtin return 1
          fi
        fi
      done
    } 8<>"$dir/@CARO_REQUEST_FIFO@" 9<>"$dir/@CARO_REPLY_FIFO@"
    if [[ -n $pid ]] && { IFS= builtin read -r -d '' rc && IFS= builtin read -r -d '' out; } <"$dir/@CARO_REPLY_FILE@"; then
      builtin printf '%s' "$out"
      builtin return "$rc"
    fi
  fi
  @CARO_CLIENT@ widget bash "$@" </dev/null
}

# What caro last answered: the widget arguments of the request, and every buffer it wrote for it.
# Ctrl-G on a buffer caro wrote asks for another candidate; anything else starts afresh.
[[ -n ${_caro_shown+set} ]] || _caro_shown=()
[[ -n ${_caro_request+set} ]] || _caro_request=()
[[ -n ${_caro_failed+set} ]] || _caro_failed=()

# Runs first in PROMPT_COMMAND, while $? is the last command's: when it failed, Ctrl-G on an empty
# line fixes it. Whether a command ran is read from the prompt's command counter (\#, bash 4.4's
# ${x@P}), which an empty line, a comment or Ctrl-C leave as they are; nothing forks unless one
# failed. Its text comes from history only where history surely holds it (see _caro_in_history).
_caro_precmd() {
  builtin local rc=$? count entry=
  if ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] < 404)); then
    _caro_precmd_old "$rc"
    builtin return "$rc"
  fi
  count=${_caro_counter@P}
  if [[ -n ${_caro_count+set} && $count != "$_caro_count" ]]; then
    _caro_failed=()
    # Without HISTTIMEFORMAT, which would put a time stamp before the entry (fc's offsets shift
    # with where it runs from, so history it is).
    if ((rc != 0)) && _caro_in_history && entry=$(HISTTIMEFORMAT='' builtin history 1 2>/dev/null) &&
      [[ $entry =~ ^[[:space:]]*[0-9]+[*[:space:]]+(.*)$ ]]; then
      _caro_failed=("${BASH_REMATCH[1]}" "$rc")
    fi
  fi
  _caro_count=$count
  _caro_histcmd=$HISTCMD
  builtin return "$rc"
}
_caro_counter='\#'

# Whether the last history entry is the command that just ran. It is when history grew (caro's own
# entries are counted out), or, when it did not, if the only rule that drops entries is ignoredups
# or erasedups (a repeat). With ignorespace, ignoreboth (Debian's default), HISTIGNORE or history
# off, a command may have been left out: its text is unknown, and Ctrl-G sends nothing rather than
# "fix" an older one.
_caro_in_history() {
  if [[ $HISTCMD != "${_caro_histcmd-}" ]]; then
    builtin return 0
  fi
  [[ :$SHELLOPTS: == *:history:* && -z ${HISTIGNORE-} && ${HISTCONTROL-} != *ignorespace* &&
    ${HISTCONTROL-} != *ignoreboth* && (${HISTCONTROL-} == *ignoredups* || ${HISTCONTROL-} == *erasedups*) ]]
}

# bash before 4.4: a new history number means a command ran, and its entry is taken as it.
_caro_precmd_old() {
  builtin local entry
  entry=$(builtin history 1 2>/dev/null) || entry=
  if [[ $entry =~ ^[[:space:]]*([0-9]+)[*[:space:]]+(.*)$ && ${BASH_REMATCH[1]} != "${_caro_seen-}" ]]; then
    _caro_seen=${BASH_REMATCH[1]}
    if (($1 != 0)); then
      _caro_failed=("${BASH_REMATCH[2]}" "$1")
    else
      _caro_failed=()
    fi
  fi
}

_caro_is_shown() {
  builtin local shown
  for shown in "${_caro_shown[@]}"; do
    [[ $shown != "$1" ]] || builtin return 0
  done
  builtin return 1
}

_caro_widget() {
  # Declared first, assigned after: `builtin local a=$b` would split $b into words.
  builtin local typed out message buffer shown rc=0
  builtin local -a args flags
  args=()
  flags=()
  # Whether `#` starts a comment at this prompt: without it, caro puts a blocked command in as an
  # assignment, not as `# …` (src/shell/disarm.ts).
  if builtin shopt -q interactive_comments; then
    flags=(--comments)
  fi
  typed=$READLINE_LINE
  if (( ${#_caro_shown[@]} )) && _caro_is_shown "$typed"; then
    for shown in "${_caro_shown[@]}"; do args+=(--shown "$shown"); done
    args+=("${_caro_request[@]}")
  elif [[ -n ${typed//[[:space:]]/} ]]; then
    args=(-- "$typed")
  elif (( ${#_caro_failed[@]} == 2 )); then
    args=(--failed "${_caro_failed[0]}" --status "${_caro_failed[1]}" -- "")
  else
    builtin return 0
  fi
  # caro draws "thinking" and the command as it streams in, in place of the prompt line.
  out=$(_caro_client ${flags[@]+"${flags[@]}"} "${args[@]}") || rc=$?
  message=${out%%$'\n'*}
  if (( rc == @CARO_EXIT_ANSWERED@ || rc == @CARO_EXIT_TYPED_KEYS_ONLY@ )) && [[ $out == *$'\n'* ]]; then
    buffer=${out#*$'\n'}
    if (( rc == @CARO_EXIT_ANSWERED@ )) && [[ ${args[0]} == --shown ]]; then
      _caro_shown+=("$buffer")
    elif (( rc == @CARO_EXIT_ANSWERED@ )); then
      # The request goes into history so it can be recalled; undo brings it back too.
      if [[ -n ${typed//[[:space:]]/} ]]; then
        builtin history -s -- "$typed"
        # Not a command the user ran: the fix path must not take it for one.
        _caro_histcmd=$HISTCMD
      fi
      _caro_request=("${args[@]}")
      _caro_shown=("$buffer")
    fi
    READLINE_LINE=$buffer
    # bash 4 counts READLINE_POINT in bytes, bash 5 in characters: the byte length (C locale)
    # is the end in both, since bash 5 stops a larger point at the end of the line.
    builtin local LC_ALL=C
    READLINE_POINT=${#READLINE_LINE}
  elif [[ -z $message ]] && (( rc != @CARO_EXIT_NOTHING_TO_DO@ )); then
    message="caro: failed (exit $rc)"
  fi
  if [[ -n $message ]]; then
    builtin printf '\r\033[2K%s\n' "$message" >/dev/tty
  fi
  builtin return 0
}

# Explains the command in the buffer below the prompt; the buffer stays as it is.
_caro_explain_widget() {
  builtin local out rc=0
  if [[ -z ${READLINE_LINE//[[:space:]]/} ]]; then
    builtin return 0
  fi
  out=$(_caro_client --explain -- "$READLINE_LINE") || rc=$?
  if [[ -z $out ]]; then
    out="caro: failed (exit $rc)"
  fi
  builtin printf '\r\033[2K%s\n' "$out" >/dev/tty
  builtin return 0
}

# caro init writes in the bind switch (1, or 0 under --no-bind), the keymaps, and the keys in
# readline's notation.
# Bind only where there is line editing: a non-interactive shell would print warnings.
if (( @CARO_BIND@ )) && [[ -z ${_caro_bound-} && $- == *i* ]]; then
  if (( BASH_VERSINFO[0] < 4 )); then
    builtin printf 'caro: bash %s has no READLINE_LINE; the Ctrl-G widget needs bash 4 or newer\n' \
      "$BASH_VERSION" >&2
  else
    _caro_bound=1
    _caro_key=@CARO_KEY_NAME@
    _caro_explain_key=@CARO_EXPLAIN_KEY_NAME@
    for _caro_keymap in @CARO_KEYMAPS@; do
      builtin bind -m "$_caro_keymap" -x '"@CARO_KEY@": _caro_widget'
      builtin bind -m "$_caro_keymap" -x '"@CARO_EXPLAIN_KEY@": _caro_explain_widget'
    done
    builtin unset _caro_keymap
  fi
fi

# _caro_precmd goes first, to see the last command's status; PROMPT_COMMAND is an array in bash 5.1+.
if [[ -z ${_caro_hooked-} && $- == *i* ]]; then
  _caro_hooked=1
  # shellcheck disable=SC2128,SC2178 # a string here, an array in the branch above
  if [[ $(builtin declare -p PROMPT_COMMAND 2>/dev/null) == "declare -a"* ]]; then
    PROMPT_COMMAND=(_caro_precmd "${PROMPT_COMMAND[@]}")
  else
    PROMPT_COMMAND="_caro_precmd${PROMPT_COMMAND:+; $PROMPT_COMMAND}"
  fi
fi

# caro init writes in the start switch (1, or 0 under --no-start or [daemon] start_on_init = false):
# the daemon starts and loads the model in the background while the shell starts, so the first Ctrl-G
# is warm. Started from a subshell, it is never this shell's job: no job notice, nothing to wait for.
if (( @CARO_START@ )); then
  ( @CARO_CLIENT@ daemon start --background --shell @CARO_SHELL@ </dev/null >/dev/null 2>&1 & )
fi
