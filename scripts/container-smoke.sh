#!/usr/bin/env bash
# Build the container image on this machine and run it, with no registry: a Debian base made with debootstrap
# and `podman import`, `podman build --isolation chroot` on it, then `podman run`, or, where podman cannot
# start a container, the image's root filesystem running `stance serve` under chroot. Checks /ready and
# /v1/classify, then cleans up. Run as root: `make container-smoke` (docs/api.md#container shows its output).
#
# Settings (environment): BASE_IMAGE, IMAGE (tags), SUITE, MIRROR (debootstrap), CA_BUNDLE (mounted into the
# build for HTTPS), PIP_FIND_LINKS (a folder of wheels mounted into the build), TORCH_INDEX, READY_TIMEOUT (s),
# SMOKE_RUN=chroot (skip `podman run`, run the chroot fallback).
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=${BASE_IMAGE:-localhost/stance-base:bookworm}
IMAGE=${IMAGE:-localhost/stance:smoke}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
WHEELS=${PIP_FIND_LINKS:-}
READY_TIMEOUT=${READY_TIMEOUT:-300}
NAME=stance-smoke-$$
PARAGRAPH="No treaty outlasts the interests that made it. A nation that forgets the balance of power will \
pay for the lesson, so we should keep our fleet strong, our alliances few, and our commitments within our means."

log() { printf '[container-smoke %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() {
    log "FAILED: $*" >&2
    exit 1
}

work=$(mktemp -d /var/tmp/stance-smoke.XXXXXX)
rootfs="" container="" server_pid="" mounts=()
cleanup() {
    local rc=$?
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" && wait "$server_pid" 2>/dev/null || true
    fi
    local i
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || true
    done
    if [[ -n $container ]]; then
        podman umount "$container" >/dev/null 2>&1 || true
        podman rm -f "$container" >/dev/null 2>&1 || true
    fi
    # --one-file-system: never follow a mount that a failed debootstrap left inside its target.
    [[ -z $rootfs ]] || rm -rf --one-file-system "$rootfs" || log "left $rootfs behind (still mounted?)"
    rm -rf "$work"
    ((rc == 0)) || log "exit $rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $EUID -eq 0 ]] || die "run as root: debootstrap, podman mount and chroot need it"

# 1. Tools: both are Debian packages.
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v runc >/dev/null || missing+=(runc) # see step 4
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
log "$(podman --version), debootstrap $(dpkg-query -W -f '${Version}' debootstrap)"

# 2. The base: Debian's Python 3.11 in a venv at /opt/venv, first on PATH. The Dockerfile wants `python` and
# `pip` that install into the image's interpreter, as python:3.11-slim has. Debian's own pip refuses that
# (PEP 668: its site-packages belong to apt); a venv is the way PEP 668 asks for, and it also brings the
# `python` and `pip` names, whereas PIP_BREAK_SYSTEM_PACKAGES would mix pip's packages into apt's.
if podman image exists "$BASE_IMAGE"; then
    log "base $BASE_IMAGE exists: reused (podman rmi it to rebuild)"
else
    start=$SECONDS
    rootfs=$(mktemp -d /var/tmp/stance-base.XXXXXX)
    log "debootstrap --variant=minbase $SUITE (python3, python3-venv, ca-certificates) from $MIRROR"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
        die "debootstrap failed; its log ends: $(tail -n 5 "$work/debootstrap.log")"
    chroot "$rootfs" python3 -m venv /opt/venv
    python=$(chroot "$rootfs" /opt/venv/bin/python --version)
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman import --quiet \
        --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' --change 'CMD ["python"]' - "$BASE_IMAGE" >/dev/null
    rm -rf --one-file-system "$rootfs"
    rootfs=""
    log "base $BASE_IMAGE built in $((SECONDS - start)) s: $python, $(podman image inspect -f '{{.Size}}' \
        "$BASE_IMAGE" | numfmt --to=si)B"
fi

# 3. The image. This machine's CA bundle (HTTPS to the package index) and its wheel folder (the CPU torch
# wheel) are mounted into the build, not written into the Dockerfile. Docker's image format, as `docker build`
# makes: the OCI format has no HEALTHCHECK, so podman would drop it. With a wheel folder the index is PyPI:
# the folder's 2.13.0+cpu sorts above PyPI's 2.13.0 (a local version label ranks higher), and torch's own
# dependencies come from PyPI.
build=(--isolation chroot --format docker --build-arg "BASE=$BASE_IMAGE" -v "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:ro")
if [[ -n $WHEELS ]]; then
    [[ -d $WHEELS ]] || die "PIP_FIND_LINKS=$WHEELS is not a folder"
    build+=(-v "$WHEELS:/wheels:ro" --build-arg PIP_FIND_LINKS=/wheels
        --build-arg "TORCH_INDEX=${TORCH_INDEX:-https://pypi.org/simple}")
elif [[ -n ${TORCH_INDEX:-} ]]; then
    build+=(--build-arg "TORCH_INDEX=$TORCH_INDEX")
fi
start=$SECONDS
log "podman build ${build[*]} -t $IMAGE ."
# Only the step lines are shown; pipefail makes a failed build fail the pipeline.
nice -n 19 podman build "${build[@]}" -t "$IMAGE" . 2>&1 | tee "$work/build.log" |
    grep --line-buffered -E '^(STEP|COMMIT)' ||
    die "podman build failed; its log ends: $(tail -n 20 "$work/build.log")"
log "image $IMAGE built in $((SECONDS - start)) s: $(podman image inspect -f '{{.Size}}' "$IMAGE" | numfmt --to=si)B"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port

# 4. Run it: `podman run` as anyone would; where that fails, `podman run` with runc and lower limits (below);
# where that fails too, the image's root filesystem under chroot, as the image's user, in its working
# directory, with its environment (nothing isolated but the files). SMOKE_RUN=chroot goes straight there.
mode=""
try_run() { # [podman options]: start the image detached on $port; its error in $work/run.err
    if podman "$@" run -d --name "$NAME" -p "127.0.0.1:$port:8000" "${limits[@]}" "$IMAGE" >/dev/null \
        2>"$work/run.err"; then
        container=$NAME mode=podman
    else
        log "podman run failed: $(grep -v '^$' "$work/run.err" | tail -n 1)"
        podman rm -f "$NAME" >/dev/null 2>&1 || true
    fi
}
if [[ ${SMOKE_RUN:-} != chroot ]]; then
    limits=()
    log "podman run -d -p 127.0.0.1:$port:8000 $IMAGE"
    try_run
    # In a sandbox without CAP_SYS_RESOURCE, the runtime cannot raise RLIMIT_NOFILE/NPROC to podman's default
    # of 1048576, and crun refuses a hybrid cgroup v1/v2 layout; runc accepts it, and limits at or below the
    # current ones need no capability. RLIMIT_NPROC counts the uid's processes: 4096 is ample for one server.
    if [[ -z $mode ]] && command -v runc >/dev/null; then
        nofile=$(ulimit -Hn)
        [[ $nofile == unlimited || $nofile -gt 65536 ]] && nofile=65536
        limits=(--ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096)
        log "podman --runtime runc run -d -p 127.0.0.1:$port:8000 ${limits[*]} $IMAGE"
        try_run --runtime runc
    fi
fi
if [[ $mode == podman ]]; then
    alive() { [[ $(podman inspect -f '{{.State.Running}}' "$container") == true ]]; }
    server_log() { podman logs "$container" 2>&1; }
else
    mode=chroot
    container=$(podman create --name "$NAME" "$IMAGE")
    root=$(podman mount "$container")
    for target in proc sys dev dev/shm; do
        case $target in
        proc) mount -t proc proc "$root/proc" ;;
        sys) mount -t sysfs -o ro sysfs "$root/sys" ;;
        dev) mount --bind /dev "$root/dev" ;; # not --rbind: the host's /dev/pts and /dev/shm stay out
        dev/shm) mount -t tmpfs -o mode=1777 shm "$root/dev/shm" ;;
        esac
        mounts+=("$root/$target")
    done
    user=$(podman image inspect -f '{{.Config.User}}' "$IMAGE")
    workdir=$(podman image inspect -f '{{.Config.WorkingDir}}' "$IMAGE")
    mapfile -t env < <(podman image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | grep .)
    uid="" gid="" home=""
    IFS=: read -r uid gid home < <(awk -F: -v u="${user:-root}" '$1 == u {print $3 ":" $4 ":" $6}' \
        "$root/etc/passwd") || true
    [[ -n $uid ]] || die "user '$user' is not in the image's /etc/passwd"
    log "podman create + podman mount: $root; chroot as $user ($uid:$gid) in $workdir"
    chroot --userspec="$uid:$gid" --groups="$gid" "$root" /usr/bin/env -i -C "$workdir" "${env[@]}" HOME="$home" \
        stance serve --host 127.0.0.1 --port "$port" >"$work/server.log" 2>&1 &
    server_pid=$!
    alive() { kill -0 "$server_pid" 2>/dev/null; }
    server_log() { cat "$work/server.log"; }
fi

# 5. Ready, then one real paragraph.
start=$SECONDS
until [[ $(curl -s -o /dev/null -w '%{http_code}' "$url/ready" || true) == 200 ]]; do
    alive || die "the server exited before it was ready; its log ends: $(server_log | tail -n 20)"
    ((SECONDS - start < READY_TIMEOUT)) || die "/ready not 200 after $READY_TIMEOUT s: $(server_log | tail -n 20)"
    sleep 1
done
log "GET /ready: 200 after $((SECONDS - start)) s ($mode): $(curl -s "$url/ready")"
if [[ $mode == podman ]]; then # the image's own HEALTHCHECK command, run inside the container
    health=$(podman healthcheck run "$container" 2>&1) || die "HEALTHCHECK failed: $health"
    log "podman healthcheck run: ${health:-healthy}"
fi
body=$(python3 -c 'import json, sys; print(json.dumps({"texts": [sys.argv[1]]}))' "$PARAGRAPH")
response=$(curl -sS --fail-with-body -H 'Content-Type: application/json' -d "$body" "$url/v1/classify") ||
    die "POST /v1/classify: $response"
log "POST /v1/classify: $response"
label=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["results"][0]["label"])' <<<"$response")
case $label in
realist | liberal_internationalist | neither) log "label: $label" ;;
*) die "unexpected label '$label'" ;;
esac

# 6. Stop it the way a container engine would (SIGTERM), and say how it exited; the trap cleans up.
if [[ $mode == podman ]]; then
    # Its stderr is kept out of sight: without systemd, podman logs an error for the HEALTHCHECK timer it
    # cannot remove (`podman healthcheck run` above does not need one).
    podman stop -t 30 "$container" >/dev/null 2>"$work/stop.err" || die "podman stop: $(cat "$work/stop.err")"
    log "stopped: exit $(podman inspect -f '{{.State.ExitCode}}' "$container")"
else
    kill -TERM "$server_pid"
    status=0
    wait "$server_pid" || status=$?
    server_pid=""
    log "stopped: exit $status"
fi
log "OK: $IMAGE built and served /ready and /v1/classify ($mode)"
