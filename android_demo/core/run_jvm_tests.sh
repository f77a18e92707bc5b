#!/usr/bin/env bash
# Compiles and runs the JUnit tests of android_demo/core without Gradle or the Android SDK.
#
#   android_demo/core/run_jvm_tests.sh            (from anywhere)
#
# 1. java: uses `java` from PATH/JAVA_HOME; if there is none, installs Debian's
#    default-jdk-headless with apt-get (as root, or with passwordless sudo).
# 2. kotlinc: the `kotlin-compiler` package of the npm registry (a plain JVM
#    distribution: kotlinc + kotlin-stdlib), with `npm install` when npm exists,
#    else downloaded from registry.npmjs.org by Python and checked against the
#    registry's sha512.
# 3. Gson and JUnit 4: Debian's libgoogle-gson-java and junit4 jars (/usr/share/java),
#    installed with apt-get like the JDK when missing.
# 4. Compiles core/src/main + core/src/test into one jar, cached by a hash of the
#    sources, the compiler version and the jars.
# 5. Generates the golden files with core/tools/make_golden.py (the Python
#    tokenizer + the real spiece.model) into a temporary directory.
# 6. Runs every *Test class under JUnit 4 (org.junit.runner.JUnitCore) with the golden
#    directory and the bundles in ALBERT_TEST_BUNDLES as system properties; a missing
#    fixture fails the tests that need it. Exit status 1 on any failure.
# Exits 77 ("skipped") only when a tool (java, gson, junit) cannot be had at all or the
# real spiece.model is missing.
#
# Environment: PYTHON (default python3; needs albert_tf installed), ALBERT_SPM_MODEL
# (default <repo>/../shared/data/albert/spiece.model), ALBERT_TEST_BUNDLES (bundle
# directories written by `albert export`, separated by ':'), ALBERT_TF_ANDROID_CACHE
# (default ~/.cache/albert_tf_android).
set -euo pipefail

CORE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$CORE/../.." && pwd)"
CACHE="${ALBERT_TF_ANDROID_CACHE:-$HOME/.cache/albert_tf_android}"
PYTHON="${PYTHON:-python3}"
SHARED="$REPO/../shared/data"
SPM_MODEL="${ALBERT_SPM_MODEL:-$SHARED/albert/spiece.model}"
KOTLIN_VERSION=2.4.20
KOTLIN_SHA512="IF5IVM7LpPhA/ntHQQpaVt1yxpaaQovtEVYLyqWMuaLr0XelLPPm7/sM6HLhtcRjjjoSsK7I7lP2kzYJkMy73w=="
mkdir -p "$CACHE"
log() { echo "[run_jvm_tests] $*" >&2; }

# ---------------------------------------------------------------- 1. Java
# apt_install PACKAGE...: installs Debian packages, or exits 77 saying why it cannot.
apt_install() {
    log "installing $* with apt-get"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
            log "SKIP: $* missing and apt-get needs root (no passwordless sudo)"; exit 77; fi
    fi
    if ! command -v apt-get >/dev/null; then log "SKIP: $* missing and there is no apt-get"; exit 77; fi
    export DEBIAN_FRONTEND=noninteractive
    if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }; then
        log "SKIP: apt-get could not install $*"; exit 77
    fi
}
find_java() {
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then echo "$JAVA_HOME/bin/java"; return 0; fi
    command -v java 2>/dev/null
}
if ! JAVA="$(find_java)"; then
    apt_install default-jdk-headless
    JAVA="$(find_java)" || { log "SKIP: java still missing after apt-get"; exit 77; }
fi
log "java: $("$JAVA" -version 2>&1 | head -1)"
export JAVA_HOME="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$JAVA")")")}"

# ------------------------------------------------------------- 2. kotlinc
KOTLIN_HOME="$CACHE/kotlin-compiler-$KOTLIN_VERSION"
if [ ! -x "$KOTLIN_HOME/bin/kotlinc" ] || [ ! -f "$KOTLIN_HOME/lib/kotlin-stdlib.jar" ]; then
    rm -rf "$KOTLIN_HOME" "$CACHE/npm-tmp"
    if command -v npm >/dev/null; then
        log "npm install kotlin-compiler@$KOTLIN_VERSION"
        npm install --silent --no-audit --no-fund --no-save --prefix "$CACHE/npm-tmp" "kotlin-compiler@$KOTLIN_VERSION" >&2
        mv "$CACHE/npm-tmp/node_modules/kotlin-compiler" "$KOTLIN_HOME"
        rm -rf "$CACHE/npm-tmp"
    else
        log "no npm: downloading kotlin-compiler-$KOTLIN_VERSION.tgz from registry.npmjs.org"
        "$PYTHON" - "$KOTLIN_VERSION" "$KOTLIN_SHA512" "$KOTLIN_HOME" <<'PY'
import base64, hashlib, io, pathlib, sys, tarfile, urllib.request
version, digest, home = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
url = f"https://registry.npmjs.org/kotlin-compiler/-/kotlin-compiler-{version}.tgz"
data = urllib.request.urlopen(url, timeout=120).read()
if base64.b64encode(hashlib.sha512(data).digest()).decode() != digest:
    sys.exit(f"sha512 mismatch for {url}")
tmp = home.with_name(home.name + ".tmp")
with tarfile.open(fileobj=io.BytesIO(data)) as tar:
    tar.extractall(tmp, filter="data")
(tmp / "package").rename(home)
tmp.rmdir()
PY
    fi
    chmod +x "$KOTLIN_HOME"/bin/*
fi
KOTLINC="$KOTLIN_HOME/bin/kotlinc"
STDLIB="$KOTLIN_HOME/lib/kotlin-stdlib.jar"

# -------------------------------------------------- 3. Gson and JUnit jars
JARS=/usr/share/java
if [ ! -f "$JARS/gson.jar" ] || [ ! -f "$JARS/junit4.jar" ] || [ ! -f "$JARS/hamcrest-core.jar" ]; then
    apt_install libgoogle-gson-java junit4
fi
for jar in gson junit4 hamcrest-core; do
    [ -f "$JARS/$jar.jar" ] || { log "SKIP: $JARS/$jar.jar still missing after apt-get"; exit 77; }
done
LIBS="$JARS/gson.jar:$JARS/junit4.jar:$JARS/hamcrest-core.jar"

# ------------------------------------------------------------- 4. compile
SOURCES=$(find "$CORE/src/main/kotlin" "$CORE/src/test/kotlin" -name '*.kt' | sort)
HASH=$( (echo "$KOTLIN_VERSION $LIBS"; sha256sum "$JARS/gson.jar" "$JARS/junit4.jar"; for f in $SOURCES; do echo "$f"; cat "$f"; done) | sha256sum | cut -c1-16)
JAR="$CACHE/build/core-tests-$HASH.jar"
if [ ! -f "$JAR" ]; then
    log "compiling $(echo "$SOURCES" | wc -l) Kotlin files"
    mkdir -p "$CACHE/build"
    rm -f "$CACHE"/build/core-tests-*.jar
    # shellcheck disable=SC2086
    JAVA_OPTS="-Xmx1g" "$KOTLINC" -jvm-target 17 -nowarn -cp "$LIBS" -d "$JAR.tmp.jar" $SOURCES
    mv "$JAR.tmp.jar" "$JAR"
else
    log "compiled jar is up to date ($JAR)"
fi

# -------------------------------------------------------------- 5. golden
if [ ! -f "$SPM_MODEL" ]; then
    log "SKIP: the real ALBERT spiece.model is not at $SPM_MODEL (set ALBERT_SPM_MODEL)"; exit 77
fi
GOLDEN="$(mktemp -d "${TMPDIR:-/tmp}/albert_android_golden.XXXXXX")"
trap 'rm -rf "$GOLDEN"' EXIT
"$PYTHON" "$CORE/tools/make_golden.py" --spm_model "$SPM_MODEL" --out "$GOLDEN" \
    --sst2 "$SHARED/glue/SST-2/dev.tsv" \
    --wiki "$SHARED/corpus/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2" \
    --text "$SHARED/corpus/hf_sample_text.txt"

# ----------------------------------------------------------------- 6. run
TESTS=$(find "$CORE/src/test/kotlin" -name '*Test.kt' -printf '%f\n' | sed 's/\.kt$//; s/^/org.alberttf.core./' | sort)
# shellcheck disable=SC2086
"$JAVA" -Xmx1g -Dalbert.requireFixtures=true -Dalbert.goldenDir="$GOLDEN" -Dalbert.bundles="${ALBERT_TEST_BUNDLES:-}" \
    -cp "$JAR:$STDLIB:$LIBS" org.junit.runner.JUnitCore $TESTS
