# The installable library: `cmake --install` of the build into a staging prefix holds
# libgenc.so with its soname, every public header, the genc command and genc.pc; genc.h
# includes every public header; examples/c/train_tiny.c compiles with nothing but
# `pkg-config --cflags --libs genc` from that prefix, links the shared library and runs; the
# Python package is installed too (with its type stubs and py.typed) and imports from the prefix.
. "$(dirname "$0")/lib.sh" "$1"
build="$2"
command -v pkg-config >/dev/null && command -v cc >/dev/null || { echo "SKIP: pkg-config or cc missing"; exit 77; }
prefix="$tmp/prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 && ok || bad "cmake --install: $(tail -3 "$tmp/install.log")"
pc=$(find "$prefix" -name genc.pc | head -1)
[ -n "$pc" ] && ok || bad "no genc.pc under the prefix"
lib=$(find "$prefix" -name 'libgenc.so.*' -type f | head -1)
[ -n "$lib" ] && ok || bad "no libgenc.so.* under the prefix"
soname=$(readelf -d "$lib" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libgenc.so.0 ] && ok || bad "soname is '$soname', expected libgenc.so.0"
[ -x "$prefix/bin/genc" ] && "$prefix/bin/genc" --version >/dev/null && ok || bad "installed genc does not run"
for h in include/genc/*.h; do
  name=$(basename "$h")
  [ -f "$prefix/include/genc/$name" ] && ok || bad "$name is not installed"
  [ "$name" = genc.h ] || grep -q "^#include \"$name\"" include/genc/genc.h && ok || bad "genc.h does not include $name"
done
! grep -lE '\bjson_t\b|#include <(jansson|cblas|png|zlib)' "$prefix"/include/genc/*.h && ok || bad "a public header exposes a third-party type"
export PKG_CONFIG_PATH="$(dirname "$pc")"
flags=$(pkg-config --cflags --libs genc) && ok || bad "pkg-config --cflags --libs genc failed"
if cc -std=c11 -Wall -Wextra -Werror -pedantic examples/c/train_tiny.c $flags -o "$tmp/train_tiny" 2>"$tmp/cc.log"; then ok
else bad "examples/c/train_tiny.c does not compile: $(head -5 "$tmp/cc.log")"; fi
if [ -x "$tmp/train_tiny" ]; then
  LD_LIBRARY_PATH="$(dirname "$lib")" ldd "$tmp/train_tiny" | grep -q "libgenc.so.0 => $(dirname "$lib")" && ok \
    || bad "train_tiny does not link the installed libgenc.so.0"
  LD_LIBRARY_PATH="$(dirname "$lib")" "$tmp/train_tiny" >"$tmp/run.log" 2>&1 && ok || bad "train_tiny failed: $(cat "$tmp/run.log")"
  grep -q '^xor: loss' "$tmp/run.log" && grep -q '^tiny lm:' "$tmp/run.log" && ok || bad "train_tiny printed: $(cat "$tmp/run.log")"
fi
# The Python package, when this build has one: the installed copy imports and computes.
if [ -d "$build/python/genc" ]; then
  pydir="$prefix/lib/python3/dist-packages"
  [ -f "$pydir/genc/__init__.py" ] && ls "$pydir"/genc/_genc*.so >/dev/null 2>&1 && ok || bad "the Python package is not installed under $pydir"
  out=$(cd "$tmp" && PYTHONPATH="$pydir" /usr/bin/python3 -c 'import genc; print(genc.__file__); print(float((genc.tensor([1.0, 2.0]) * 3).sum()))' 2>&1)
  case "$out" in "$pydir"/genc/__init__.py*9.0) ok ;; *) bad "installed genc does not import from the prefix: $out" ;; esac
  # PEP 561: the marker and the extension's stubs are installed with the package
  [ -f "$pydir/genc/py.typed" ] && [ -f "$pydir/genc/_genc.pyi" ] && ok || bad "py.typed or _genc.pyi is not installed under $pydir/genc"
fi
echo "install: $pass passed, $fail failed"
[ $fail -eq 0 ]
