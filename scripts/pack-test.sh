#!/usr/bin/env bash
# Packaging test (issue 9 item 2; run by .ci/run, or `npm run pack:test`):
#   1. build, then `npm pack` every published package into a temporary directory;
#   2. project 1, a fresh `npm init` project outside the repository, installs ONLY the
#      @fewstep/core, @fewstep/loss-consistency and @fewstep/backbones tarballs (their registry
#      dependencies and peers come from the registry; no workspace links) and runs
#      pack-test/di-check.mjs (DI with explicit @inject from the built core) and
#      pack-test/consistency-demo.mjs, a short consistency distillation on the public API;
#   3. project 2 installs every tarball and runs `npx fewstep --help` (all commands listed), one
#      real command from the installed dist (`fewstep sample` on the shipped demo teacher) and the
#      "## Example" of every library package's README.
# Exits non-zero with the reason on the first failure. PACK_TEST_SKIP_BUILD=1 skips step 1's build;
# PACK_TEST_KEEP=1 keeps the temporary directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
published=(packages/core packages/backbones packages/loss-sdm packages/loss-adversarial packages/loss-consistency packages/recipes tools/data tools/eval tools/cli)
work="$(mktemp -d "${TMPDIR:-/tmp}/fewstep-pack-test.XXXXXX")"
if [ "${PACK_TEST_KEEP:-0}" = 1 ]; then echo "pack-test: keeping $work"; else trap 'rm -rf "$work"' EXIT; fi
case "$work" in "$root"/*) echo "pack-test: the temporary directory must be outside the repository"; exit 1 ;; esac
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false npm_config_loglevel=error
t0=$SECONDS
phase_start=$SECONDS
lap() { echo "pack-test: $1 ($((SECONDS - phase_start)) s)"; phase_start=$SECONDS; }
die() { echo "pack-test: FAILED: $*"; exit 1; }

cd "$root"
if [ "${PACK_TEST_SKIP_BUILD:-0}" != 1 ]; then npm run --silent build >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; die "npm run build"; }; fi
lap "build"

mkdir "$work/tarballs"
for p in "${published[@]}"; do
  [ -f "$p/dist/index.js" ] && [ -f "$p/dist/index.d.ts" ] || die "$p/dist is missing (build first)"
done
workspace_args=()
for p in "${published[@]}"; do workspace_args+=(-w "$p"); done
npm pack --silent --pack-destination "$work/tarballs" "${workspace_args[@]}" >"$work/pack.log" 2>&1 || { cat "$work/pack.log"; die "npm pack"; }
tarball() { local name="${1#@}"; ls "$work/tarballs/${name//\//-}"-*.tgz; }
for p in "${published[@]}"; do
  name="$(node -p "require('./$p/package.json').name")"
  tgz="$(tarball "$name")" || die "no tarball for $name"
  listing="$(tar -tzf "$tgz")"
  for f in package/package.json package/README.md package/LICENSE package/dist/index.js package/dist/index.d.ts; do
    grep -qx "$f" <<<"$listing" || die "$name: $f is not in $(basename "$tgz")"
  done
  ! grep -qE '^package/src/|\.test\.(js|d\.ts|ts)$|\.test-util\.|tsbuildinfo$|/fixtures/' <<<"$listing" || die "$name: sources, tests or fixtures in $(basename "$tgz"): $(grep -E '^package/src/|\.test\.|\.test-util\.|tsbuildinfo$|/fixtures/' <<<"$listing" | head -5 | tr '\n' ' ')"
  echo "  $(basename "$tgz"): $(wc -l <<<"$listing") files, $(du -k "$tgz" | cut -f1) kB"
done
lap "npm pack (${#published[@]} tarballs)"

# A fresh project: no workspace, no lockfile of ours, packages from tarballs only.
fresh() { mkdir "$1" && (cd "$1" && npm init -y >/dev/null && npm pkg set type=module >/dev/null); }
linked() { for d in "$1"/node_modules/@fewstep/*; do [ -L "$d" ] && die "$d is a symlink (workspace link)"; [ -e "$d/src" ] && die "$d ships src/"; done; return 0; }

fresh "$work/p1"
(cd "$work/p1" && npm install "$(tarball @fewstep/core)" "$(tarball @fewstep/loss-consistency)" "$(tarball @fewstep/backbones)" >"$work/p1-install.log" 2>&1) || { cat "$work/p1-install.log"; die "project 1: npm install"; }
linked "$work/p1"
installed="$(cd "$work/p1/node_modules/@fewstep" && ls | tr '\n' ' ')"
[ "$installed" = "backbones core loss-consistency " ] || die "project 1 has @fewstep packages '$installed' (expected only backbones core loss-consistency)"
lap "project 1: installed @fewstep/{$(echo $installed | tr ' ' ',')} from tarballs"
cp "$root/scripts/pack-test/consistency-demo.mjs" "$root/scripts/pack-test/di-check.mjs" "$work/p1/"
(cd "$work/p1" && node di-check.mjs) || die "project 1: di-check.mjs"
(cd "$work/p1" && node consistency-demo.mjs) || die "project 1: consistency-demo.mjs"
lap "project 1: DI check + consistency distillation on the public API"

fresh "$work/p2"
all=()
for p in "${published[@]}"; do all+=("$(tarball "$(node -p "require('$root/$p/package.json').name")")"); done
(cd "$work/p2" && npm install "${all[@]}" >"$work/p2-install.log" 2>&1) || { cat "$work/p2-install.log"; die "project 2: npm install"; }
linked "$work/p2"
[ ! -e "$work/p2/node_modules/tsx" ] || echo "pack-test: note: tsx was installed in project 2 (a dependency of a dependency?)"
# Assets resolved with import.meta.url (the demo teacher, the eval feature network) ship with dist/.
for p in "${published[@]}"; do
  [ -d "$p/assets" ] || continue
  name="$(node -p "require('./$p/package.json').name")"
  missing="$(comm -23 <(cd "$p/assets" && find . -type f | sort) <(cd "$work/p2/node_modules/$name/assets" 2>/dev/null && find . -type f | sort))"
  [ -z "$missing" ] || die "$name: assets missing from the tarball: $(echo $missing)"
done
lap "project 2: installed all ${#published[@]} tarballs"
help="$(cd "$work/p2" && npx --no-install fewstep --help 2>&1)" || { echo "$help"; die "project 2: npx fewstep --help"; }
for cmd in demo train-teacher distill sample trajectories eval inspect bench; do
  grep -qE "^  $cmd( |$)" <<<"$help" || { echo "$help"; die "project 2: 'fewstep --help' does not list '$cmd'"; }
done
echo "$help" | sed -n '/^Commands:/,$p' | grep -E '^  [a-z]' | sed 's/^/  /'
out="$(cd "$work/p2" && FEWSTEP_BACKEND=wasm npx --no-install fewstep sample --model node_modules/@fewstep/cli/assets/demo-teacher --solver ddim --steps 2 --n 2 --out samples 2>&1)" || { echo "$out"; die "project 2: fewstep sample with the shipped demo teacher"; }
[ -s "$work/p2/samples/samples.safetensors" ] || { echo "$out"; die "project 2: fewstep sample wrote no samples.safetensors"; }
echo "$out" | tail -1 | sed 's/^/  /'
lap "project 2: npx fewstep --help + fewstep sample from the installed dist"
# Every library README's "## Example" (its first js block) runs as written against the tarballs.
for p in "${published[@]}"; do
  [ "$p" = tools/cli ] && continue
  example="$work/p2/readme-$(basename "$p").mjs"
  awk '/^## Example/{on=1} on && /^```js$/{code=1; next} code && /^```$/{exit} code' "$p/README.md" >"$example"
  [ -s "$example" ] || die "$p/README.md has no js block under '## Example'"
  (cd "$work/p2" && FEWSTEP_LOG_LEVEL=silent node "$example" >"$example.log" 2>&1) || { cat "$example.log"; die "$p/README.md's example failed"; }
  echo "  $p/README.md example: $(grep -v '^\[fewstep\]' "$example.log" | tail -1 | cut -c1-100)"
done
lap "project 2: the README examples of the $((${#published[@]} - 1)) library packages"
echo "pack-test: OK in $((SECONDS - t0)) s"
