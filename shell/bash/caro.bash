# caro for bash: Ctrl-G turns the line you typed into a shell command, in place.
# Load it with:  eval "$(caro init bash)"
# It defines only _caro-prefixed names, can be loaded twice, and never returns from eval'd code.
# bash expands the user's aliases as it reads this file, so commands go through `\builtin` or
# `\command`, which no alias can break; the widget runs under the user's options (set -e, -u,
# pipefail), so no step in it may fail unchecked.

# One long-lived client per shell session (`caro session`, src/shell/session.ts) answers Ctrl-G,
# so no Node starts per keystroke. Its private folder is named now and made on the first Ctrl-G.
if [[ -z ${_caro_session_dir-} ]]; then
  _caro_session_dir=/tmp
  if [[ ${XDG_RUNTIME_DIR-} == /* && -d ${XDG_RUNTIME_DIR-} ]]; then
    _caro_session_dir=$XDG_RUNTIME_DIR
  fi
  _caro_session_dir+=/@CARO_SESSION_PREFIX@$UID-$$-$RANDOM$RANDOM
fi

# The session client's shared part (shell/common.sh): _caro_client and the functions it uses.
@CARO_COMMON_SH@

# Sets the caller's `waiter` to this process's pid (the widget's command substitution: the client
# drops a request whose waiter is gone) and adds to its `env` what the client forwards to the
# daemon (src/client/forwarded.ts), as exported now. ${name@a} (exported or not) needs bash 4.4:
# an older bash goes without the session client.
_caro_request_env() {
  \builtin local name
  ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 404)) || \builtin return 1
  waiter=$BASHPID
  for name in @CARO_FORWARDED@; do
    if [[ -n ${!name+set} && ${!name@a} == *x* ]]; then
      env+=("$name=${!name}")
    fi
  done
}

# Sets the caller's `shell_names` to the names of this shell's functions (not the _-prefixed
# ones: helpers, bash-completion's among them) and aliases, and its `history_lines` to the last $2
# history lines, oldest first. The builtins write to the session folder $1's scratch file and
# mapfile reads it back: no fork, no history file (bash writes it late).
_caro_request_context() {
  \builtin local scratch=$1/@CARO_SCRATCH_FILE@ line
  \builtin local -a found
  found=()
  # Aliases from their table; functions from compgen, which writes a line at a time (so the
  # _-prefixed ones, often hundreds, are left out there), and fails when there is none.
  shell_names=("${!BASH_ALIASES[@]}")
  if \builtin compgen -A function -X '_*' >|"$scratch" 2>/dev/null && \builtin mapfile -t found <"$scratch"; then
    shell_names+=("${found[@]}")
  fi
  # history, not fc: fc takes the last entry for its own command line and leaves it out, and in
  # a key binding there is none. Without a time stamp; a line that is no entry's first goes on
  # with the entry before it (a command of several lines).
  if (($2 > 0)) && HISTTIMEFORMAT='' \builtin history "$2" >|"$scratch" 2>/dev/null &&
    \builtin mapfile -t found <"$scratch"; then
    for line in "${found[@]}"; do
      if [[ $line =~ ^[[:space:]]*[0-9]+[*[:space:]]+(.*)$ ]]; then
        history_lines+=("${BASH_REMATCH[1]}")
      elif ((${#history_lines[@]})); then
        history_lines[-1]+=$'\n'$line
      fi
    done
  fi
  \builtin return 0
}

# Starts the session client for the folder $1, in a subshell without job control: the client stays
# in the shell's process group, which owns the terminal while the widget runs, so it can take the
# keys (Ctrl-C cancels) as the one-shot client does.
_caro_session_start() {
  (
    \builtin set +m
    @CARO_CLIENT@ session bash "$1" "$$" </dev/null >/dev/null 2>&1 &
    \builtin printf '%s\n' "$!" >|"$1/@CARO_PID_FILE@"
  )
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
  \builtin local rc=$? count entry=
  if ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] < 404)); then
    _caro_precmd_old "$rc"
    \builtin return "$rc"
  fi
  count=${_caro_counter@P}
  if [[ -n ${_caro_count+set} && $count != "$_caro_count" ]]; then
    _caro_failed=()
    # Without HISTTIMEFORMAT, which would put a time stamp before the entry (fc's offsets shift
    # with where it runs from, so history it is).
    if ((rc != 0)) && _caro_in_history && entry=$(HISTTIMEFORMAT='' \builtin history 1 2>/dev/null) &&
      [[ $entry =~ ^[[:space:]]*[0-9]+[*[:space:]]+(.*)$ ]]; then
      _caro_failed=("${BASH_REMATCH[1]}" "$rc")
    fi
  fi
  _caro_count=$count
  _caro_histcmd=$HISTCMD
  \builtin return "$rc"
}
_caro_counter='\#'

# Whether the last history entry is the command that just ran. It is when history grew (caro's own
# entries are counted out), or, when it did not, if the only rule that drops entries is ignoredups
# or erasedups (a repeat). With ignorespace, ignoreboth (Debian's default), HISTIGNORE or history
# off, a command may have been left out: its text is unknown, and Ctrl-G sends nothing rather than
# "fix" an older one.
_caro_in_history() {
  if [[ $HISTCMD != "${_caro_histcmd-}" ]]; then
    \builtin return 0
  fi
  [[ :$SHELLOPTS: == *:history:* && -z ${HISTIGNORE-} && ${HISTCONTROL-} != *ignorespace* &&
    ${HISTCONTROL-} != *ignoreboth* && (${HISTCONTROL-} == *ignoredups* || ${HISTCONTROL-} == *erasedups*) ]]
}

# bash before 4.4 (no ${x@P}): history that grew means a command ran, and its entry is taken as it.
# $HISTCMD says whether it grew without a fork (the widget counts its own entries out), so
# `history 1` runs only after a failure.
_caro_precmd_old() {
  \builtin local entry
  if [[ -n ${_caro_histcmd+set} && $HISTCMD != "$_caro_histcmd" ]]; then
    _caro_failed=()
    if (($1 != 0)) && entry=$(\builtin history 1 2>/dev/null) &&
      [[ $entry =~ ^[[:space:]]*[0-9]+[*[:space:]]+(.*)$ ]]; then
      _caro_failed=("${BASH_REMATCH[1]}" "$1")
    fi
  fi
  _caro_histcmd=$HISTCMD
}

_caro_is_shown() {
  \builtin local shown
  for shown in "${_caro_shown[@]}"; do
    [[ $shown != "$1" ]] || \builtin return 0
  done
  \builtin return 1
}

_caro_widget() {
  # Declared first, assigned after: `\builtin local a=$b` would split $b into words.
  \builtin local typed out message buffer shown rc=0
  \builtin local -a args flags
  args=()
  flags=()
  # Whether `#` starts a comment at this prompt: without it, caro puts a blocked command in as an
  # assignment, not as `# …` (src/shell/disarm.ts).
  if \builtin shopt -q interactive_comments; then
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
    \builtin return 0
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
        \builtin history -s -- "$typed"
        # Not a command the user ran: the fix path must not take it for one.
        _caro_histcmd=$HISTCMD
      fi
      _caro_request=("${args[@]}")
      _caro_shown=("$buffer")
    fi
    READLINE_LINE=$buffer
    # bash 4 counts READLINE_POINT in bytes, bash 5 in characters: the byte length (C locale)
    # is the end in both, since bash 5 stops a larger point at the end of the line.
    \builtin local LC_ALL=C
    READLINE_POINT=${#READLINE_LINE}
  elif [[ -z $message ]] && (( rc != @CARO_EXIT_NOTHING_TO_DO@ )); then
    message="caro: failed (exit $rc)"
  fi
  if [[ -n $message ]]; then
    \builtin printf '\r\033[2K%s\n' "$message" >/dev/tty
  fi
  \builtin return 0
}

# Explains the command in the buffer below the prompt; the buffer stays as it is.
_caro_explain_widget() {
  \builtin local out rc=0
  if [[ -z ${READLINE_LINE//[[:space:]]/} ]]; then
    \builtin return 0
  fi
  out=$(_caro_client --explain -- "$READLINE_LINE") || rc=$?
  if [[ -z $out ]]; then
    out="caro: failed (exit $rc)"
  fi
  \builtin printf '\r\033[2K%s\n' "$out" >/dev/tty
  \builtin return 0
}

# caro init writes in the bind switch (1, or 0 under --no-bind), the keymaps, and the keys in
# readline's notation.
# Bind only where there is line editing: a non-interactive shell would print warnings.
if (( @CARO_BIND@ )) && [[ -z ${_caro_bound-} && $- == *i* ]]; then
  if (( BASH_VERSINFO[0] < 4 )); then
    \builtin printf 'caro: bash %s has no READLINE_LINE; the Ctrl-G widget needs bash 4 or newer\n' \
      "$BASH_VERSION" >&2
  else
    _caro_bound=1
    _caro_key=@CARO_KEY_NAME@
    _caro_explain_key=@CARO_EXPLAIN_KEY_NAME@
    for _caro_keymap in @CARO_KEYMAPS@; do
      \builtin bind -m "$_caro_keymap" -x '"@CARO_KEY@": _caro_widget'
      \builtin bind -m "$_caro_keymap" -x '"@CARO_EXPLAIN_KEY@": _caro_explain_widget'
    done
    \builtin unset _caro_keymap
  fi
fi

# _caro_precmd goes first, to see the last command's status; PROMPT_COMMAND is an array in bash 5.1+.
if [[ -z ${_caro_hooked-} && $- == *i* ]]; then
  _caro_hooked=1
  # shellcheck disable=SC2128,SC2178 # a string here, an array in the branch above
  if [[ $(\builtin declare -p PROMPT_COMMAND 2>/dev/null) == "declare -a"* ]]; then
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
