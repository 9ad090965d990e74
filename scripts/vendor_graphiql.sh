#!/usr/bin/env bash
# Re-fetch GraphiQL's browser assets into src/modelyard/api/graphql/static/ from the npm
# registry (`npm pack`, no install scripts run) and check each file's sha256 against the
# list below: /graphql serves them to browsers, so a changed file must be a reviewed change.
# To move to another version: change the versions, run with UPDATE=1, review, commit.
set -euo pipefail
cd "$(dirname "$0")/.."
STATIC=src/modelyard/api/graphql/static
GRAPHIQL=3.8.3
REACT=18.2.0

# file in the package -> file here
FILES=(
  "graphiql-$GRAPHIQL.tgz package/graphiql.min.js graphiql.min.js"
  "graphiql-$GRAPHIQL.tgz package/graphiql.min.css graphiql.min.css"
  "graphiql-$GRAPHIQL.tgz package/LICENSE LICENSE.graphiql"
  "react-$REACT.tgz package/umd/react.production.min.js react.production.min.js"
  "react-$REACT.tgz package/LICENSE LICENSE.react"
  "react-dom-$REACT.tgz package/umd/react-dom.production.min.js react-dom.production.min.js"
  "react-dom-$REACT.tgz package/LICENSE LICENSE.react-dom"
)
SUMS="
22faab94067b695e5f7959619fbe686ebcc8955002a0c97d986bcbba4ad4bc2c  graphiql.min.js
b1868247f8e0502cd869e581f5f3cb55b334862e7f51b1d6cbace11059b9adc2  graphiql.min.css
4b18fbe55c4e8f9169cb702be138f4d858a2dad920c39857204ffdc9c1c9fdc4  LICENSE.graphiql
4b4969fa4ef3594324da2c6d78ce8766fbbc2fd121fff395aedf997db0a99a06  react.production.min.js
52412d7bc7ce4157ea628bbaacb8829e0a9cb3c58f57f99176126bc8cf2bfc85  LICENSE.react
21758ed084cd0e37e735722ee4f3957ea960628a29dfa6c3ce1a1d47a2d6e4f7  react-dom.production.min.js
52412d7bc7ce4157ea628bbaacb8829e0a9cb3c58f57f99176126bc8cf2bfc85  LICENSE.react-dom
"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null)
for entry in "${FILES[@]}"; do
  read -r tarball inside name <<<"$entry"
  tar -xzf "$work/$tarball" -C "$work" "$inside"
  cp "$work/$inside" "$STATIC/$name"
  rm -rf "$work/package"
done
if [[ "${UPDATE:-}" == 1 ]]; then
  (cd "$STATIC" && sha256sum graphiql.min.js graphiql.min.css LICENSE.graphiql \
    react.production.min.js LICENSE.react react-dom.production.min.js LICENSE.react-dom)
  echo "put these sums in $0"
else
  (cd "$STATIC" && sha256sum --check --quiet <<<"$SUMS")
  echo "GraphiQL $GRAPHIQL and React $REACT vendored; every sha256 matches"
fi
