#!/bin/sh
# Make sure Graphviz's `dot` is available: install it where this machine allows, else say how.
command -v dot >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Graphviz (apt-get install graphviz)..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
        && exit 0
fi
echo "note: Graphviz's 'dot' program is not installed; diagrams will be written as .dot files."
echo "      Install it with your package manager: apt-get install graphviz | brew install graphviz | dnf install graphviz"
exit 0
