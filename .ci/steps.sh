# The step runner `.ci/run` sources: set-up steps that run concurrently, each with its log,
# its dependencies and its seconds, and a table of them at the end.
#
#   step NAME [after=A,B] CMD [ARGS...]   start CMD in the background once steps A and B have
#                                         succeeded; its output goes to $CI_LOGS/NAME.log
#   now NAME CMD [ARGS...]                run CMD in the foreground (its output shown and kept
#                                         in $CI_LOGS/NAME.log), timed like the others
#   await NAME...                         until those steps end (no NAME: every step started)
#   timing_table                          each step's start, seconds and outcome
#
# CMD may be a shell function of the caller: the step runs it in a subshell under
# `set -euo pipefail`, so its first failing command fails the step. A failed step fails the
# run as soon as `await` sees it (whichever step `await` is waiting for): its log is shown,
# the steps still running are stopped (each runs in a process group of its own), and the
# steps that needed it are never started. Nothing a background step does is lost: its exit
# status is kept in $CI_STEPS/NAME.rc and read by `await`, and the EXIT trap prints the table
# even when the run fails.

CI_T0=${EPOCHREALTIME/,/.}
CI_STEPS=$WORK/steps   # per step: .rc (its exit status), .t (start and end, epoch seconds)
CI_LOGS=$WORK/logs
rm -rf "$CI_STEPS" && mkdir -p "$CI_STEPS" "$CI_LOGS"
CI_ORDER=()            # steps in the order they were declared
declare -A CI_PID=() CI_AFTER=()
set -m                 # every background step in a process group of its own (to stop it whole)

_now() { echo "${EPOCHREALTIME/,/.}"; }

step() {
  local name=$1 deps="" d
  shift
  if [[ ${1:-} == after=* ]]; then deps=${1#after=}; shift; fi
  [[ -z ${CI_PID[$name]:-} ]] || { echo "ci: step $name declared twice" >&2; exit 2; }
  for d in ${deps//,/ }; do  # a typo in a dependency would wait for ever
    [[ -n ${CI_PID[$d]:-} ]] || { echo "ci: step $name needs $d, which is not declared before it" >&2; exit 2; }
  done
  CI_ORDER+=("$name")
  CI_AFTER[$name]=$deps
  (
    set +e
    trap - EXIT
    for d in ${deps//,/ }; do
      while [[ ! -e $CI_STEPS/$d.rc ]]; do sleep 0.5; done
      if [[ $(<"$CI_STEPS/$d.rc") != 0 ]]; then
        echo "not started: step $d failed" >"$CI_LOGS/$name.log"
        echo skipped >"$CI_STEPS/$name.rc"
        exit 1
      fi
    done
    t0=$(_now)
    (set -euo pipefail; "$@") </dev/null >"$CI_LOGS/$name.log" 2>&1
    rc=$?
    echo "$t0 $(_now)" >"$CI_STEPS/$name.t"
    echo "$rc" >"$CI_STEPS/$name.rc.tmp" && mv "$CI_STEPS/$name.rc.tmp" "$CI_STEPS/$name.rc"
    exit "$rc"
  ) &
  CI_PID[$name]=$!
  disown "$!"  # no job notices; `await` reads the .rc files
  printf '== started %-16s %s(%.0fs)\n' "$name" "${deps:+after $deps }" "$(_elapsed "$(_now)")"
}

now() {
  local name=$1 t0 rc
  shift
  [[ -z ${CI_PID[$name]:-} ]] || { echo "ci: step $name declared twice" >&2; exit 2; }
  CI_ORDER+=("$name")
  CI_PID[$name]=fg
  printf '\n== %s (%.0fs)\n' "$name" "$(_elapsed "$(_now)")"
  t0=$(_now)
  set +e
  (set -euo pipefail; "$@") 2>&1 | tee "$CI_LOGS/$name.log"
  rc=${PIPESTATUS[0]}
  set -e
  echo "$t0 $(_now)" >"$CI_STEPS/$name.t"
  echo "$rc" >"$CI_STEPS/$name.rc"
  if [[ $rc != 0 ]]; then
    echo "ci: step $name failed (exit $rc); its log: $CI_LOGS/$name.log" >&2
    exit "$rc"
  fi
}

_elapsed() { awk -v a="$1" -v b="$CI_T0" 'BEGIN { printf "%.1f", a - b }'; }

_fail() {  # a step failed: show its log, stop the others, fail the run
  local name=$1 rc
  rc=$(<"$CI_STEPS/$name.rc")
  printf '\n== step %s failed (%s); the last 200 lines of %s:\n' "$name" \
    "$([[ $rc == skipped ]] && echo "a step it needs failed" || echo "exit $rc")" "$CI_LOGS/$name.log" >&2
  tail -n 200 "$CI_LOGS/$name.log" >&2
  exit 1
}

await() {
  local names=("$@") n pending
  [[ $# -gt 0 ]] || names=("${CI_ORDER[@]}")
  printf '\n== waiting for %s (%.0fs)\n' "${names[*]}" "$(_elapsed "$(_now)")"
  while :; do
    pending=0
    for n in "${CI_ORDER[@]}"; do  # any failure fails the run, whichever step we wait for
      [[ ${CI_PID[$n]} == fg || ! -e $CI_STEPS/$n.rc ]] && continue
      [[ $(<"$CI_STEPS/$n.rc") == 0 ]] || _fail "$n"
    done
    for n in "${names[@]}"; do
      [[ -n ${CI_PID[$n]:-} ]] || { echo "ci: await $n: no such step" >&2; exit 2; }
      [[ -e $CI_STEPS/$n.rc ]] || pending=1
    done
    [[ $pending == 0 ]] && break
    sleep 1
  done
}

stop_steps() {  # the EXIT trap: stop the background steps still running, whole
  local n
  for n in "${CI_ORDER[@]}"; do
    [[ ${CI_PID[$n]} == fg || -e $CI_STEPS/$n.rc ]] && continue
    kill -TERM -- "-${CI_PID[$n]}" 2>/dev/null || true
    echo stopped >"$CI_STEPS/$n.rc"
  done
}

timing_table() {
  local n t0 t1 rc status end
  end=$(_now)
  printf '\n== timing (seconds from the start of .ci/run; load average now: %s)\n' \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%-18s %-28s %8s %8s  %s\n' step after start seconds status
  for n in "${CI_ORDER[@]}"; do
    if [[ -e $CI_STEPS/$n.t ]]; then
      read -r t0 t1 <"$CI_STEPS/$n.t"
    else
      t0="" t1=""
    fi
    rc=$(cat "$CI_STEPS/$n.rc" 2>/dev/null || echo running)
    case $rc in 0) status=ok ;; skipped|running|stopped) status=$rc ;; *) status="failed ($rc)" ;; esac
    if [[ -n $t0 ]]; then
      printf '%-18s %-28s %8.0f %8.0f  %s\n' "$n" "${CI_AFTER[$n]:--}" "$(_elapsed "$t0")" \
        "$(awk -v a="$t1" -v b="$t0" 'BEGIN { print a - b }')" "$status"
    else
      printf '%-18s %-28s %8s %8s  %s\n' "$n" "${CI_AFTER[$n]:--}" - - "$status"
    fi
  done
  printf '%-18s %-28s %8s %8.0f\n' total - 0 "$(_elapsed "$end")"
}
