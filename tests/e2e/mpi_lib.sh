# What the MPI end-to-end scripts share (source after lib.sh with the build folder as $2):
# skip (exit 77) when genc was built without MPI or mpirun is missing (fail instead under
# GENC_REQUIRE_DEPS=1, where the set-up installs Open MPI); `mpi` runs mpirun on loopback
# (--oversubscribe: the ranks may outnumber the cores; root allowed in containers);
# rank_pid finds a rank's process; params_diff compares two checkpoints' parameters.
build="${2:-build}"
if ! grep -q '^GENC_WITH_MPI:INTERNAL=ON' "$build/CMakeCache.txt" 2>/dev/null || ! command -v mpirun >/dev/null; then
  echo "skipped: genc built without MPI or no mpirun (make deps installs Open MPI; then reconfigure)"
  [ "${GENC_REQUIRE_DEPS:-0}" = 1 ] && exit 1 || exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader,tcp \
       OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
mpi() { mpirun --oversubscribe "$@"; }

# rank_pid PID RANK: the pid of that rank's process, a child or grandchild of PID (mpirun, or a
# command such as timeout that runs it); waits up to 20 s for it to start.
rank_pid() {
  local i c
  for i in $(seq 200); do
    for c in $(pgrep -P "$1") $(for k in $(pgrep -P "$1"); do pgrep -P "$k"; done); do
      tr '\0' '\n' <"/proc/$c/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && { echo "$c"; return 0; }
    done
    sleep 0.1
  done
  return 1
}

# params_diff A B: the largest absolute difference between the F32 parameters (not optimiser
# moments or side-cars) of two checkpoints, and where.
params_diff() {
  python3 - "$1" "$2" <<'PY'
import json, struct, sys
def load(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); out = {}
    for k, v in h.items():
        if k == '__metadata__' or v['dtype'] != 'F32': continue
        s, e = v['data_offsets']; out[k] = struct.unpack('<%df' % ((e - s) // 4), b[8 + n + s:8 + n + e])
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
params = [k for k in a if not k.startswith(('optim.', 'tokenizer.', 'extra.'))]
assert params and set(params) == set(k for k in b if not k.startswith(('optim.', 'tokenizer.', 'extra.')))
print('%.3g %s' % max((abs(x - y), k) for k in params for x, y in zip(a[k], b[k])))
PY
}
# within TOL "DIFF WHERE": true when DIFF <= TOL.
within() { python3 -c "import sys; sys.exit(0 if float('$2'.split()[0]) <= $1 else 1)"; }
