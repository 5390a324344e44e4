#!/usr/bin/env bash
# Installs the web app's pinned npm libraries (web/package-lock.json) and copies the files
# the browser loads into web/app/vendor, the only place the app loads libraries from.
# Needs npm (installed with apt-get on Debian when missing). Run by `make web`.
set -euo pipefail
cd "$(dirname "$0")/../web"

if ! command -v npm >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "npm is missing: installing Debian's nodejs and npm"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    else
        echo "error: npm is needed to install the web app's libraries (apt-get install npm)" >&2
        exit 1
    fi
fi

npm ci --no-audit --no-fund --loglevel=error

vendor=app/vendor
rm -rf "$vendor.tmp" && mkdir -p "$vendor.tmp/graphql-ws" "$vendor.tmp/licenses"
copy() { cp "node_modules/$1" "$vendor.tmp/$2"; }
copy react/umd/react.production.min.js react.production.min.js
copy react-dom/umd/react-dom.production.min.js react-dom.production.min.js
copy graphiql/graphiql.min.js graphiql.min.js
copy graphiql/graphiql.min.css graphiql.min.css
copy marked/lib/marked.esm.js marked.esm.js
copy dompurify/dist/purify.es.mjs purify.es.js
# graphql-ws's browser client: an ES module and the chunk it imports.
for file in node_modules/graphql-ws/dist/client.js node_modules/graphql-ws/dist/common-*.js; do cp "$file" "$vendor.tmp/graphql-ws/"; done
for package in react react-dom graphiql marked dompurify graphql-ws; do
    for license in node_modules/$package/LICENSE*; do
        [ -f "$license" ] && cp "$license" "$vendor.tmp/licenses/$package.txt"
    done
done
rm -rf "$vendor" && mv "$vendor.tmp" "$vendor"
touch "$vendor/.installed"
echo "web app libraries vendored into web/$vendor"
