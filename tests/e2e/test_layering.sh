# The layering rule (CONTRIBUTING.md), checked on the build: front-ends (src/cli, src/python)
# never call the training loop, an optimiser, checkpoint I/O or safetensors themselves (the
# undefined symbols of their object files) and include no internal header; an internal header
# ("dir/x.h" under src/) is included only from its own folder; no op includes a family header.
# ALLOWED lists the exceptions left, file by file; it may only shrink. Usage: BIN BUILD_DIR.
. "$(dirname "$0")/lib.sh" "$1"
build="$2"
command -v nm >/dev/null || { echo "SKIP: nm missing"; exit 77; }

FORBIDDEN='genc_(train_run|optim_[a-z0-9_]+|checkpoint_[a-z0-9_]+|st_[a-z0-9_]+)'
# file  symbols it may still use (an extended regex)  -- why
ALLOWED=(
  "python/optim.c   genc_optim_[a-z0-9_]+"  # the Python AdamW/SGD classes bind the optimiser itself
  "python/module.c  genc_st_[a-z0-9_]+"     # genc.load_file/save_file bind the safetensors reader/writer
)
allowed_for() { # FILE -> the regex its exceptions allow, or a pattern that matches nothing
  local e f re
  for e in "${ALLOWED[@]}"; do
    read -r f re <<<"$e"
    [ "$f" = "$FILE" ] && { echo "$re"; return; }
  done
  echo '^$'
}

objs=$(find "$build/CMakeFiles/genc_cli.dir/src/cli" "$build/python/CMakeFiles/genc_python.dir" -name '*.c.o' 2>/dev/null)
[ -n "$objs" ] && ok || bad "no front-end objects under $build"
for o in $objs; do
  FILE=$(echo "$o" | sed -E 's|.*/src/(cli\|python)/([^/]*)\.o$|\1/\2|')
  re=$(allowed_for)
  hits=$(nm -u "$o" | grep -oE "$FORBIDDEN" | grep -vxE "$re" | sort -u | tr '\n' ' ')
  [ -z "$hits" ] && ok || bad "src/$FILE calls the engine below its family: $hits"
done

# Includes: "dir/x.h" (not genc/) only from src/dir itself; front-ends none but their own.
for f in src/*/*.c src/*/*.h; do
  dir=$(basename "$(dirname "$f")")
  wrong=$(grep -oE '^#include "[a-z_]+/[a-z_0-9]+\.h"' "$f" | sed -E 's/#include "//; s/"$//' \
          | grep -v "^genc/" | grep -v "^$dir/" | tr '\n' ' ')
  [ -z "$wrong" ] && ok || bad "$f includes another folder's internal header: $wrong"
done

# Ops are below the families: no family header.
FAMILY='genc/(lm|lm_infer|prefix|tasks|grpo|tokenizer|image|flow|glow|unet|diffusion|diffusion_model|fid|data|png|train)\.h'
for f in src/ops/*.c src/ops/*.h src/core/*.c; do
  fam=$(grep -oE "^#include \"$FAMILY\"" "$f" | tr '\n' ' ')
  [ -z "$fam" ] && ok || bad "$f (below the families) includes $fam"
done

echo "layering: $pass passed, $fail failed"
[ $fail -eq 0 ]
