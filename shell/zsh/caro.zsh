# caro for zsh: Ctrl-G turns the line you typed into a shell command, in place.
# Load it with:  eval "$(caro init zsh)"
# It defines only _caro-prefixed names, can be loaded twice, and never returns from eval'd code.
# eval expands the user's aliases as it reads this file, so every command goes through `builtin`
# (aliases of `builtin` itself aside); options are the user's until `emulate -L zsh` in the widget.

# One long-lived client per shell session (`caro session`, src/shell/session.ts) answers Ctrl-G,
# so no Node starts per keystroke. Its private folder is named now and made on the first Ctrl-G.
if [[ -z ${_caro_session_dir-} ]]; then
  builtin typeset -g _caro_session_dir=/tmp
  [[ ${XDG_RUNTIME_DIR-} != /* || ! -d ${XDG_RUNTIME_DIR-} ]] || _caro_session_dir=$XDG_RUNTIME_DIR
  _caro_session_dir+=/@CARO_SESSION_PREFIX@$UID-$$-$RANDOM$RANDOM
fi

# Whether pid $1 is this user's session client for the folder $2: not a pid reused by another
# process, a zombie, or another user's process. Builtins only: it runs while a Ctrl-G waits.
_caro_session_ours() {
  builtin emulate -L zsh
  builtin local word session= folder=
  if [[ ! -d /proc/self ]]; then
    builtin kill -0 "$1" 2>/dev/null
    builtin return
  fi
  [[ -O /proc/$1 ]] || builtin return 1
  while IFS= builtin read -r -d '' word; do
    [[ $word == session ]] && session=1
    [[ $word == "$2" ]] && folder=1
  done 2>/dev/null <"/proc/$1/cmdline"
  [[ -n $session && -n $folder ]]
}

# Whether process $1 is stopped (SIGSTOP): it cannot answer until something else wakes it.
_caro_session_stopped() {
  builtin emulate -L zsh
  builtin local stat
  builtin read -r stat 2>/dev/null <"/proc/$1/stat" && [[ ${stat##*\) } == [Tt]* ]]
}

# Sets the caller's `pid` to the session client's, (re)starting it when it is not there; fails when
# it cannot be started. No command substitution: a fork per keystroke costs a millisecond.
_caro_session_pid() {
  builtin emulate -L zsh
  builtin local dir=$1
  pid=
  if [[ -p $dir/@CARO_REQUEST_FIFO@ && -p $dir/@CARO_REPLY_FIFO@ && -O $dir/@CARO_REQUEST_FIFO@ && -O $dir && ! -L $dir ]] &&
    builtin read -r pid 2>/dev/null <"$dir/@CARO_PID_FILE@" && [[ $pid == <-> ]] && _caro_session_ours "$pid" "$dir"; then
    builtin return 0
  fi
  # mkdir makes the folder 0700 or fails; one already there must be this user's (the client checks its mode).
  { command mkdir -m 700 -- "$dir" 2>/dev/null || [[ -d $dir && -O $dir && ! -L $dir ]]; } || builtin return 1
  # Fresh FIFOs: a client killed mid-request may have left bytes in the old ones.
  command rm -f -- "$dir/@CARO_REQUEST_FIFO@" "$dir/@CARO_REPLY_FIFO@" "$dir/@CARO_PID_FILE@" "$dir/@CARO_TTY_FILE@" && command mkfifo -m 600 -- "$dir/@CARO_REQUEST_FIFO@" "$dir/@CARO_REPLY_FIFO@" ||
    builtin return 1
  # The terminal as the line editor has it: what to give back if a client is ended holding it in raw mode.
  command stty -g 2>/dev/null </dev/tty >|"$dir/@CARO_TTY_FILE@"
  # In a subshell without job control: the client stays in the shell's process group, which owns the
  # terminal while the widget runs, so it can take the keys (Ctrl-C cancels) as the one-shot client does.
  (
    builtin setopt no_monitor
    @CARO_CLIENT@ session zsh "$dir" "$$" </dev/null >/dev/null 2>&1 &!
    builtin print -r -- "$!" >|"$dir/@CARO_PID_FILE@"
  )
  builtin read -r pid <"$dir/@CARO_PID_FILE@"
}

# Ends a session client that stopped answering and gives the terminal back as the line editor had
# it (the client may have been stopped holding it raw); the next Ctrl-G starts a new one.
_caro_session_drop() {
  builtin emulate -L zsh
  builtin local dir=$1 pid=$2 waiter=$3 state
  builtin kill -KILL "$pid" 2>/dev/null
  command rm -f -- "$dir/@CARO_PID_FILE@" "$dir/@CARO_REQUEST_FILE@.$waiter"
  if builtin read -r state 2>/dev/null <"$dir/@CARO_TTY_FILE@" && [[ -n $state ]]; then
    command stty "$state" 2>/dev/null </dev/tty
  fi
}

# `_caro_client <widget args>` prints what `caro widget zsh <widget args>` prints, with its exit
# status: through the session client when there is one, else (or when it dies) by starting caro.
# It runs in the widget's command substitution: the umask it sets ends with it.
_caro_client() {
  builtin emulate -L zsh
  builtin local dir=${_caro_session_dir-} pid waiter line rc out name heard= quiet=0 why=
  builtin local -a env fields
  if [[ -n $dir ]] && _caro_session_pid "$dir" && builtin zmodload -F zsh/system p:sysparams 2>/dev/null; then
    # The process that waits (this command substitution): the client drops a request whose waiter is gone.
    waiter=$sysparams[pid]
    # Only what the client forwards to the daemon (src/client/forwarded.ts), as exported now.
    for name in ${(k)parameters[(I)@CARO_FORWARDED@]}; do
      [[ ${parameters[$name]} == *export* ]] && env+=("$name=${(P)name}")
    done
    # A zsh string may hold a NUL, the request's separator: none may reach the file, or a pasted
    # line could add a variable of its own (CARO_CONFIG=…) to the request.
    fields=("$PWD" "$#" "$@" "${#env}" "${env[@]}")
    builtin umask 077
    builtin print -rN -- "${fields[@]//$'\0'/}" >|"$dir/@CARO_REQUEST_FILE@.$waiter"
    {
      builtin print -r -- "$waiter" >&8
      # Read-write opens never block; the reply is waited for only while the client is there. It
      # says "alive" at once and every second while it works; silence (in 0.2 s steps) ends it.
      while :; do
        if builtin read -r -t 0.2 -u 9 line; then
          [[ $line != "$waiter" ]] || break
          heard=1 quiet=0
        elif ! _caro_session_ours "$pid" "$dir" && [[ -n $heard || ! -O /proc/$pid ]]; then
          # Gone, or its pid taken by another process. Before it is heard, a client started now
          # may not be caro yet (forked, not yet exec'd): there only its going counts.
          pid=
          break
        else
          (( ++quiet ))
          if _caro_session_stopped "$pid"; then
            (( quiet < 15 )) || why="is stopped (SIGSTOP) and did not answer for 3 s"
          elif [[ -n $heard ]]; then
            (( quiet < 50 )) || why="stopped answering for 10 s (stuck)"
          else
            # Not heard yet: a client started now may take long to load Node on a busy machine.
            (( quiet < 300 )) || why="did not answer for 60 s (stuck)"
          fi
          if [[ -n $why ]]; then
            _caro_session_drop "$dir" "$pid" "$waiter"
            builtin print -rn -- "caro: the session client (pid $pid) $why: it was ended; Ctrl-G starts a new one"
            builtin return 1
          fi
        fi
      done
    } 8<>"$dir/@CARO_REQUEST_FIFO@" 9<>"$dir/@CARO_REPLY_FIFO@"
    if [[ -n $pid ]] && { IFS= builtin read -r -d '' rc; IFS= builtin read -r -d '' out; } <"$dir/@CARO_REPLY_FILE@"; then
      builtin print -rn -- "$out"
      builtin return "$rc"
    fi
  fi
  @CARO_CLIENT@ widget zsh "$@" </dev/null
}

# What caro last answered: the widget arguments of the request, and every buffer it wrote for it.
# Ctrl-G on a buffer caro wrote asks for another candidate; anything else starts afresh.
builtin typeset -ga _caro_request _caro_shown _caro_failed

# The command line zsh runs (its hooks get it whatever the history keeps: HIST_IGNORE_SPACE drops
# only the history entry, and $3, the full text, stands in when there is no history) and, once it
# has run, its status when it failed: Ctrl-G on an empty line fixes it.
_caro_preexec() {
  builtin emulate -L zsh
  builtin typeset -g _caro_ran=${1:-$3}
}

# zsh gives every precmd function the last command's $?; emulate would reset it, so it is read first.
# A prompt after no command (an empty line, Ctrl-C) keeps what the last command left.
_caro_precmd() {
  builtin local rc=$?
  builtin emulate -L zsh
  (( ${+_caro_ran} )) || builtin return 0
  if (( rc != 0 )) && [[ -n $_caro_ran ]]; then
    _caro_failed=("$_caro_ran" "$rc")
  else
    _caro_failed=()
  fi
  builtin unset _caro_ran
}

_caro_widget() {
  # Read before emulate, which would show zsh's default (off): whether `#` starts a comment at this
  # prompt. Without it, caro puts a blocked command in as an assignment, not as `# …` (disarm.ts).
  builtin local comments=
  if [[ -o interactive_comments ]]; then
    comments=--comments
  fi
  builtin emulate -L zsh
  builtin local typed out message rc buffer shown
  builtin local -a args
  typed=$BUFFER
  if (( ${#_caro_shown} )) && (( ${_caro_shown[(Ie)$typed]} )); then
    for shown in "${_caro_shown[@]}"; do args+=(--shown "$shown"); done
    args+=("${_caro_request[@]}")
  elif [[ -n ${typed//[[:space:]]/} ]]; then
    args=(-- "$typed")
  elif (( ${#_caro_failed} == 2 )); then
    args=(--failed "$_caro_failed[1]" --status "$_caro_failed[2]" -- "")
  else
    builtin return 0
  fi
  # caro draws "thinking" and the command as it streams in, on the line below this one.
  out=$(_caro_client ${comments:+"$comments"} "${args[@]}")
  rc=$?
  message=${out%%$'\n'*}
  if (( rc == @CARO_EXIT_ANSWERED@ || rc == @CARO_EXIT_TYPED_KEYS_ONLY@ )) && [[ $out == *$'\n'* ]]; then
    buffer=${out#*$'\n'}
    if (( rc == @CARO_EXIT_ANSWERED@ )); then
      if [[ $args[1] == --shown ]]; then
        _caro_shown+=("$buffer")
      else
        # The request goes into history so it can be recalled; undo brings it back too.
        [[ -n ${typed//[[:space:]]/} ]] && builtin print -rs -- "$typed"
        _caro_request=("${args[@]}")
        _caro_shown=("$buffer")
      fi
    fi
    BUFFER=$buffer
    CURSOR=$#BUFFER
  elif [[ -z $message ]] && (( rc != @CARO_EXIT_NOTHING_TO_DO@ )); then
    message="caro: failed (exit $rc)"
  fi
  builtin zle -R
  [[ -z $message ]] || builtin zle -M -- "$message"
  builtin return 0
}

# Explains the command in the buffer below the prompt; the buffer stays as it is.
_caro_explain_widget() {
  builtin emulate -L zsh
  builtin local out rc
  [[ -n ${BUFFER//[[:space:]]/} ]] || builtin return 0
  out=$(_caro_client --explain -- "$BUFFER")
  rc=$?
  [[ -n $out ]] || out="caro: failed (exit $rc)"
  builtin zle -R
  builtin zle -M -- "$out"
  builtin return 0
}

builtin zle -N _caro_widget
builtin zle -N _caro_explain_widget
if [[ -z ${_caro_hooked-} ]]; then
  builtin typeset -g _caro_hooked=1
  builtin typeset -ga preexec_functions precmd_functions
  preexec_functions+=(_caro_preexec)
  precmd_functions+=(_caro_precmd)
fi
# caro init writes in the bind switch (1, or 0 under --no-bind), the keymaps, and the keys in
# bindkey's notation.
if (( @CARO_BIND@ )) && [[ -z ${_caro_bound-} ]]; then
  builtin typeset -g _caro_bound=1
  builtin typeset -g _caro_key=@CARO_KEY_NAME@ _caro_explain_key=@CARO_EXPLAIN_KEY_NAME@
  for _caro_keymap in @CARO_KEYMAPS@; do
    builtin bindkey -M "$_caro_keymap" @CARO_KEY@ _caro_widget
    builtin bindkey -M "$_caro_keymap" @CARO_EXPLAIN_KEY@ _caro_explain_widget
  done
  builtin unset _caro_keymap
fi

# caro init writes in the start switch (1, or 0 under --no-start or [daemon] start_on_init = false):
# the daemon starts and loads the model in the background while the shell starts, so the first Ctrl-G
# is warm. &! disowns at once: no job notice, nothing to wait for, and no status for err_exit to see.
if (( @CARO_START@ )); then
  @CARO_CLIENT@ daemon start --background --shell @CARO_SHELL@ </dev/null >/dev/null 2>&1 &!
fi
