#!/usr/bin/env bash
# Several hosts on one machine, for real (Docs/multi-host.md): three network namespaces joined by a
# bridge, the roles started by hand on them with a TF_CONFIG of host names, and three cross-host
# faults whose outcome and recovery are checked.
#
#   sudo Tests/MultiHost/multihost.sh [--bin DIR] [--run-id ID] [--work DIR] [--max-steps N] [--keep] SCENARIO…
#
# SCENARIO: run | host-lost | link-cut | link-shaped | all (all four, each on fresh namespaces).
# --bin      the folder with trainyard-chief, trainyard-worker, trainyard-ps (default .build/debug)
# --run-id   names this run's namespaces `ty<ID>-br`, `ty<ID>-h0`… (default: this script's pid);
#            letters and digits only, at most 8
# --work     where the job folders and logs go (default: a new folder under ${TMPDIR:-/tmp})
# --keep     keep the work folder after a pass (it is always kept after a failure)
#
# The hosts (10.213.0.0/24, inside the namespaces only; the bridge lives in its own namespace, so
# nothing touches the root namespace's interfaces or routes, and no packet leaves the namespaces):
#   h0 10.213.0.10  chief    trainyard-chief-0.multihost.svc:2222
#   h1 10.213.0.11  workers  trainyard-worker-0.multihost.svc:2222, trainyard-worker-1.multihost.svc:2223
#   h2 10.213.0.12  ps       trainyard-ps-0.multihost.svc:2222
# Names come from /etc/netns/<ns>/hosts (`ip netns exec` mounts it over /etc/hosts), the way a
# cluster's DNS gives a TFJob's pods their peers' names. The job token is a file
# (TRAINYARD_JOB_TOKEN_FILE), as a mounted Kubernetes Secret.
#
# Exit status: 0 when every scenario passed; 1 when one failed (its checks and the logs' tails are
# printed); 2 on a usage error; 77 when network namespaces cannot be made here (not root, no `ip`,
# or a kernel without them): nothing was run. Every namespace, process and /etc/netns entry the
# run made is removed on every exit path (EXIT, INT, TERM); stale ones of runs whose script died
# (SIGKILL) are removed at the next start.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bin="$repo/.build/debug"
run_id="$$"
work=""
keep=0
max_steps=2000
scenarios=()

usage() { echo "usage: $0 [--bin DIR] [--run-id ID] [--work DIR] [--max-steps N] [--keep] run|host-lost|link-cut|link-shaped|all…" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) bin="${2:?--bin needs a folder}"; shift 2 ;;
        --run-id) run_id="${2:?--run-id needs an id}"; shift 2 ;;
        --work) work="${2:?--work needs a folder}"; shift 2 ;;
        --max-steps) max_steps="${2:?--max-steps needs a number}"; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
        run|host-lost|link-cut|link-shaped) scenarios+=("$1"); shift ;;
        all) scenarios+=(run host-lost link-cut link-shaped); shift ;;
        *) echo "multihost: unknown argument '$1'" >&2; usage ;;
    esac
done
[ ${#scenarios[@]} -gt 0 ] || usage
[[ "$run_id" =~ ^[A-Za-z0-9]{1,8}$ ]] || { echo "multihost: --run-id '$run_id' must be 1 to 8 letters or digits (it names network namespaces)" >&2; exit 2; }
[[ "$max_steps" =~ ^[0-9]+$ ]] && [ "$max_steps" -ge 200 ] || { echo "multihost: --max-steps must be a whole number ≥ 200 (the faults fire once step 60 is recorded, and the job must outlast them)" >&2; exit 2; }
for exe in trainyard-chief trainyard-worker trainyard-ps; do
    [ -x "$bin/$exe" ] || { echo "multihost: $bin/$exe not found: build first (swift build) or give --bin DIR" >&2; exit 2; }
done

# ---- can we make namespaces at all? -------------------------------------------------------------
skip() { echo "multihost: SKIP: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root to make network namespaces (run with sudo)"
command -v ip >/dev/null || skip "the ip command (iproute2) is not installed"
command -v tc >/dev/null || skip "the tc command (iproute2) is not installed"
probe="typrobe$$"
ip netns add "$probe" 2>/dev/null || skip "ip netns add fails here (no network namespaces, or no permission)"
ip netns del "$probe"

prefix="ty$run_id"
namespaces=("$prefix-br" "$prefix-h0" "$prefix-h1" "$prefix-h2")
br="$prefix-br"; h0="$prefix-h0"; h1="$prefix-h1"; h2="$prefix-h2"
made_work=0
if [ -z "$work" ]; then work="$(mktemp -d "${TMPDIR:-/tmp}/trainyard-multihost-XXXXXX")"; made_work=1; fi
mkdir -p "$work"
failed=0

# ---- clean-up ------------------------------------------------------------------------------------
kill_namespace() {  # every process in namespace $1, SIGKILL (a lost host), and wait until none is left
    local ns="$1" i
    for i in $(seq 1 100); do
        local pids; pids="$(ip netns pids "$ns" 2>/dev/null)"
        [ -z "$pids" ] && return 0
        kill -9 $pids 2>/dev/null
        sleep 0.05
    done
}
teardown() {
    local ns
    disown -a 2>/dev/null  # the roles still running are killed below: no job-control notice for each
    for ns in "${namespaces[@]}"; do
        if ip netns list 2>/dev/null | grep -qw "^$ns"; then
            kill_namespace "$ns"
            ip netns del "$ns" 2>/dev/null
        fi
        rm -rf "/etc/netns/$ns"
    done
    wait 2>/dev/null
}
on_exit() {
    local code=$?
    trap - EXIT INT TERM
    teardown
    if [ "$failed" = 0 ] && [ "$keep" = 0 ] && [ "$made_work" = 1 ]; then rm -rf "$work"; else echo "multihost: logs and job folders kept in $work" >&2; fi
    exit $code
}
trap on_exit EXIT
trap 'echo "multihost: interrupted" >&2; failed=1; exit 130' INT
trap 'echo "multihost: terminated" >&2; failed=1; exit 143' TERM

# Stale namespaces of earlier runs whose script is gone (`ty<pid>-…`, pid not alive); an explicit
# --run-id is the caller's to clean (the caller also removes it on its own exit path).
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^ty[0-9]+-(br|h[0-9])$'); do
    pid="${ns#ty}"; pid="${pid%%-*}"
    if [ "$pid" != "$$" ] && ! kill -0 "$pid" 2>/dev/null; then
        echo "multihost: removing stale namespace $ns (its run, pid $pid, is gone)" >&2
        kill_namespace "$ns"; ip netns del "$ns" 2>/dev/null; rm -rf "/etc/netns/$ns"
    fi
done
for ns in "${namespaces[@]}"; do
    if ip netns list | grep -qw "^$ns"; then echo "multihost: namespace $ns exists already: another run with --run-id $run_id? (ip netns del $ns)" >&2; exit 2; fi
done

# ---- the three hosts -----------------------------------------------------------------------------
addr_h0=10.213.0.10; addr_h1=10.213.0.11; addr_h2=10.213.0.12
chief_name=trainyard-chief-0.multihost.svc
worker0_name=trainyard-worker-0.multihost.svc
worker1_name=trainyard-worker-1.multihost.svc
ps_name=trainyard-ps-0.multihost.svc

hosts_file() {  # the cluster "DNS" every host sees; $1 = 1 to include the chief and the ps (published late in `run`)
    echo "127.0.0.1 localhost"
    [ "$1" = 1 ] && echo "$addr_h0 $chief_name h0"
    echo "$addr_h1 $worker0_name $worker1_name h1"
    [ "$1" = 1 ] && echo "$addr_h2 $ps_name h2"
    return 0
}

setup_hosts() {  # $1 = 1 to publish the ps's name from the start
    ip netns add "$br" || return 1
    ip -n "$br" link add br0 type bridge || return 1
    ip -n "$br" link set br0 up || return 1
    local i ns addr
    for i in 0 1 2; do
        ns="$prefix-h$i"; addr="10.213.0.1$i"
        ip netns add "$ns" || return 1
        mkdir -p "/etc/netns/$ns"
        hosts_file "$1" > "/etc/netns/$ns/hosts"
        # No name server: a name missing from the hosts file fails here, it never asks the world.
        echo "# trainyard multihost: no DNS" > "/etc/netns/$ns/resolv.conf"
        # The veth pair is made inside the bridge's namespace and one end moved to the host's.
        ip -n "$br" link add "p$i" type veth peer name eth0 netns "$ns" || return 1
        ip -n "$br" link set "p$i" master br0 || return 1
        ip -n "$br" link set "p$i" up || return 1
        ip -n "$ns" link set lo up || return 1
        ip -n "$ns" addr add "$addr/24" dev eth0 || return 1
        ip -n "$ns" link set eth0 up || return 1
    done
    # Wait until h0 reaches h2 through the bridge (a bridge port takes a moment to forward).
    for i in $(seq 1 100); do
        # A refused connection (nothing listens on port 9) proves the path; "no route" does not.
        local answer; answer="$(ip netns exec "$h0" bash -c "exec 3<>/dev/tcp/$addr_h2/9" 2>&1)"
        case "$answer" in *refused*) return 0 ;; esac
        sleep 0.1
    done
    echo "multihost: h0 cannot reach h2 over the bridge" >&2
    return 1
}

# ---- the job -------------------------------------------------------------------------------------
tf_config() {  # $1 type, $2 index
    printf '{"cluster": {"chief": ["%s:2222"], "worker": ["%s:2222", "%s:2223"], "ps": ["%s:2222"]}, "task": {"type": "%s", "index": %s}, "environment": "cloud"}' \
        "$chief_name" "$worker0_name" "$worker1_name" "$ps_name" "$1" "$2"
}
train_flags() {
    echo --hidden 16 --features 8 --classes 3 --examples 3000 --batch-size 32 --learning-rate 0.05 \
        --checkpoint-every 50 --eval-every 100 --log-every 10 --max-steps "$max_steps" \
        --startup-timeout 60 --rpc-timeout 5 --job-dir "$job"
}
start_role() {  # $1 namespace, $2 type, $3 index; sets $started to its pid. Logs: $job/logs/TYPE-INDEX.log
    local ns="$1" type="$2" index="$3" extra=()
    [ "$type" = ps ] && extra=(TRAINYARD_LISTEN_HOST=0.0.0.0)  # one task listens on every interface
    ip netns exec "$ns" env TF_CONFIG="$(tf_config "$type" "$index")" TRAINYARD_JOB_TOKEN_FILE="$work/token" \
        "${extra[@]}" "$bin/trainyard-$type" $(train_flags) > "$job/logs/$type-$index.log" 2>&1 &
    started=$!
}

# The ps's global step, from its own metrics.jsonl records (written on its host, so a cut link
# does not delay them); -1 before the first.
ps_step() { grep -h '"kind": "ps"' "$job/metrics.jsonl" 2>/dev/null | tail -1 | sed -n 's/.*"step": \([0-9]*\).*/\1/p' | grep . || echo -1; }
# The furthest global step any task has recorded (trainers every --log-every steps): the fault trigger.
any_step() { grep -h '"step": ' "$job/metrics.jsonl" 2>/dev/null | sed -n 's/.*"step": \([0-9]*\).*/\1/p' | sort -n | tail -1 | grep . || echo -1; }
ps_record() { grep -h '"kind": "ps"' "$job/metrics.jsonl" 2>/dev/null | tail -1; }
record_time() { sed -n 's/.*"time": \([0-9.]*\).*/\1/p' <<<"$1"; }
record_step() { sed -n 's/.*"step": \([0-9]*\).*/\1/p' <<<"$1"; }
ps_records() { local n; n=$(grep -c '"kind": "ps"' "$job/metrics.jsonl" 2>/dev/null); echo "${n:-0}"; }
wait_for_step() {  # $1 step, $2 timeout seconds
    local deadline=$((SECONDS + $2))
    while [ "$(any_step)" -lt "$1" ]; do
        [ $SECONDS -ge $deadline ] && { check 1 "the job reached step $1 within $2 s (it is at $(any_step))"; return 1; }
        kill -0 "$chief" 2>/dev/null || { check 1 "the chief is still running at step $(any_step) (waiting for step $1)"; return 1; }
        sleep 0.05
    done
}
wait_for_records() {  # $1 more ps records than now, $2 timeout
    local want=$(( $(ps_records) + $1 )) deadline=$((SECONDS + $2))
    while [ "$(ps_records)" -lt "$want" ] && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
}
wait_exit() {  # $1 pid, $2 timeout seconds; sets $status (124: still running at the timeout)
    local deadline=$((SECONDS + $2))
    while kill -0 "$1" 2>/dev/null; do
        [ $SECONDS -ge $deadline ] && { status=124; return; }
        sleep 0.1
    done
    wait "$1"; status=$?
}

scenario_failed=0
check() {  # $1 = 0 pass, else fail; $2 what
    if [ "$1" = 0 ]; then echo "  ok   $2"; else echo "  FAIL $2"; scenario_failed=1; fi
}
abandon() {  # a scenario that cannot go on: its logs, FAIL, and its hosts torn down
    show_logs; failed=1; echo "FAIL $name ($((SECONDS - started_at)) s)"; teardown
}
show_logs() {
    local f
    for f in "$job"/logs/*.log; do echo "  --- $(basename "$f") (last 15 lines)"; tail -15 "$f" | sed 's/^/  | /'; done
}

run_scenario() {
    local name="$1"
    job="$work/$name"; mkdir -p "$job/logs"; scenario_failed=0
    local started_at=$SECONDS late_ps=0
    [ "$name" = run ] && late_ps=1
    echo "== $name"
    if ! setup_hosts $((1 - late_ps)); then check 1 "three hosts joined by a bridge"; failed=1; echo "FAIL $name"; teardown; return; fi

    if [ "$name" = run ]; then
        mkdir -p "$job/lonely"
        ip netns exec "$h1" env TRAINYARD_JOB_TOKEN_FILE="$work/token" \
            TF_CONFIG='{"cluster": {"chief": ["h0:2298"], "worker": ["h1:2299"], "ps": ["trainyard-missing-ps-0.multihost.svc:2222"]}, "task": {"type": "worker", "index": 0}}' \
            "$bin/trainyard-worker" --hidden 16 --features 8 --classes 3 --examples 3000 --max-steps 10 \
            --startup-timeout 2 --rpc-timeout 0.5 --job-dir "$job/lonely" > "$job/logs/lonely-worker.log" 2>&1 &
        lonely=$!
    fi
    start_role "$h0" chief 0; chief=$started
    start_role "$h1" worker 0; worker0=$started
    start_role "$h1" worker 1; worker1=$started
    if [ "$late_ps" = 1 ]; then
        # The chief's and the ps's names are published only after the trainers started, as the DNS
        # records of pods not ready yet: the chief must retry its own name to listen on, the
        # trainers the ps's name, not fail.
        sleep 1.5
        local n; for n in 0 1 2; do printf '%s\n' "$addr_h0 $chief_name h0" "$addr_h2 $ps_name h2" >> "/etc/netns/$prefix-h$n/hosts"; done
    fi
    start_role "$h2" ps 0; ps=$started

    case "$name" in
    run)
        # A worker of another cluster whose ps name never resolves gives up at its startup timeout
        # and names that ps (it ran meanwhile, on h1, beside the job's workers).
        wait_exit "$lonely" 60
        check "$([ "$status" = 5 ] && echo 0 || echo 1)" "a worker whose ps never resolves exits 5 at its startup timeout (status $status)"
        grep -q "ps-0 (trainyard-missing-ps-0.multihost.svc:2222) never answered: name not resolved" "$job/logs/lonely-worker.log"
        check $? "a worker names the ps host that never resolves: $(grep -o 'gave up.*' "$job/logs/lonely-worker.log" | head -1)"
        ;;
    host-lost)
        # h1, both workers' host, is lost: every process on it killed. Asynchronous training goes
        # on with the chief alone (DESIGN.md: a lost worker costs its throughput, never the job).
        wait_for_step 60 60 || { abandon; return; }
        local at; at=$(any_step)
        disown "$worker0" "$worker1"  # their end is the point: no job-control notice
        kill_namespace "$h1"
        echo "  host h1 lost at step $at"
        check "$([ -z "$(ip netns pids "$h1")" ] && echo 0 || echo 1)" "no process left on h1"
        wait_for_step $((at + 20)) 60 && check 0 "training moved on without h1 (step $(any_step) > $at)"
        ;;
    link-cut)
        # h2's bridge port (the ps's only link) goes down for 3 s, then comes back.
        wait_for_step 60 60 || { abandon; return; }
        ip -n "$br" link set p2 down
        local cut_at=$SECONDS
        wait_for_records 2 30            # records sampled wholly after the cut
        local s1; s1=$(ps_step)
        while [ $((SECONDS - cut_at)) -lt 3 ]; do sleep 0.1; done
        wait_for_records 1 30
        local s2; s2=$(ps_step)
        check "$([ "$s1" = "$s2" ] && echo 0 || echo 1)" "no update reached the ps while its link was down (step $s1, then $s2)"
        ip -n "$br" link set p2 up
        local up_ns=$(date +%s%N)
        wait_for_step $((s2 + 1)) 60 && check 0 "training resumed after the link came back (step $(any_step) > $s2, $(( ($(date +%s%N) - up_ns) / 1000000 )) ms after)"
        ;;
    link-shaped)
        # h2's link in both directions is shaped with a token bucket (netem is not in this kernel).
        wait_for_step 60 60 || { abandon; return; }
        ip netns exec "$h2" tc qdisc add dev eth0 root tbf rate 256kbit burst 4kb latency 400ms
        ip netns exec "$br" tc qdisc add dev p2 root tbf rate 256kbit burst 4kb latency 400ms
        wait_for_records 1 30; local a; a=$(ps_record)   # sampled after the buckets were in place
        sleep 3
        wait_for_records 1 30; local b; b=$(ps_record)
        local stats; stats="$(ip netns exec "$h2" tc -s qdisc show dev eth0; ip netns exec "$br" tc -s qdisc show dev p2)"
        ip netns exec "$h2" tc qdisc del dev eth0 root
        ip netns exec "$br" tc qdisc del dev p2 root
        wait_for_records 2 10   # an interval wholly after the buckets were removed (if the job still runs)
        local after; after=$(ps_record | sed -n 's/.*"updates_per_sec": \([0-9.]*\).*/\1/p')
        local over; over=$(echo "$stats" | sed -n 's/.*overlimits \([0-9]*\).*/\1/p' | awk '{s+=$1} END {print s+0}')
        check "$([ "$over" -gt 0 ] && echo 0 || echo 1)" "the token bucket held packets back ($over overlimits)"
        # Every applied step is a push of 195 gradients (780 bytes, headers not counted) through
        # the trainers->ps bucket: 256 kbit/s = 32,000 bytes/s, plus a 4 KiB burst and the three
        # pushes that may be in flight. Load can only slow the job, so this bound holds on any machine.
        local steps seconds bound
        steps=$(( $(record_step "$b") - $(record_step "$a") ))
        seconds=$(awk -v x="$(record_time "$a")" -v y="$(record_time "$b")" 'BEGIN {printf "%.2f", y - x}')
        bound=$(awk -v t="$seconds" 'BEGIN {printf "%d", (32000 * t + 4096) / 780 + 3}')
        check "$([ "$steps" -le "$bound" ] && echo 0 || echo 1)" "the shaped link carried no more than its bucket lets through: $steps steps in $seconds s (at most $bound)"
        echo "  figures: $(awk -v n="$steps" -v t="$seconds" 'BEGIN {printf "%.1f", n / t}') steps/s while shaped to 256 kbit/s; ${after:-?} updates/s once unshaped"
        ;;
    esac

    wait_exit "$chief" 120
    check "$status" "the chief exited 0 (status $status)"
    grep -q "finished at global step $max_steps" "$job/logs/chief-0.log"
    check $? "the chief trained to the end (finished at global step $max_steps)"
    [ -f "$job/model/model.json" ] || [ -d "$job/model" ]
    check $? "the model is under --job-dir ($job/model)"
    ls "$job/checkpoints"/* >/dev/null 2>&1
    check $? "checkpoints are under --job-dir"
    if [ "$name" != host-lost ]; then
        local w
        for w in "$worker0" "$worker1"; do wait_exit "$w" 30; check "$status" "worker (pid $w) exited 0 (status $status)"; done
    fi
    # A ps started without the launcher never exits on its own: it serves until it is stopped.
    sleep 0.5
    kill -0 "$ps" 2>/dev/null
    check $? "the ps still serves after the chief ended the job"
    grep -q "serving on until stopped" "$job/logs/ps-0.log"
    check $? "the ps logged that the job ended and it serves on"
    kill -TERM "$ps" 2>/dev/null
    wait_exit "$ps" 30
    check "$status" "the ps exited 0 on SIGTERM after the job ended (status $status)"
    if [ "$scenario_failed" != 0 ]; then show_logs; failed=1; echo "FAIL $name ($((SECONDS - started_at)) s)"
    else echo "PASS $name ($((SECONDS - started_at)) s)"; fi
    teardown
}

umask 077
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/token"
echo >> "$work/token"  # a Secret's file often ends with a newline
for s in "${scenarios[@]}"; do run_scenario "$s"; done
if [ "$failed" = 0 ]; then echo "multihost: all ${#scenarios[@]} passed"; exit 0; fi
echo "multihost: some scenarios failed" >&2
exit 1
