// Package image builds guest images locally (Debian suites with debootstrap,
// a tiny busybox-init image) into LXD unified tarballs, and unpacks such
// tarballs safely into a directory. It knows nothing about the database or
// storage pools: the daemon decides where tarballs and rootfs directories live
// and calls this package.
package image

import (
	"fmt"
	"sort"
	"strings"
)

// recipes maps each canonical build name to its user-facing aliases
// (the canonical name itself included).
var recipes = map[string][]string{
	"busybox":         {"busybox"},
	"debian/bullseye": {"debian/11", "debian/bullseye"},
	"debian/bookworm": {"debian/12", "debian/bookworm"},
	"debian/trixie":   {"debian/13", "debian/trixie"},
}

// Canonical resolves a user alias ("debian/12", "debian/bookworm", "busybox")
// to the canonical build name ("debian/bookworm"). An unknown alias yields an
// error wrapping ErrUnknownImage that lists what can be built.
func Canonical(alias string) (string, error) {
	for name, aliases := range recipes {
		for _, a := range aliases {
			if a == alias {
				return name, nil
			}
		}
	}
	return "", fmt.Errorf("%w %q: can build %s", ErrUnknownImage, alias, strings.Join(allAliases(), ", "))
}

// Aliases returns every alias of a canonical name, sorted, the canonical name
// included (debian/bookworm -> [debian/12 debian/bookworm]). It returns nil
// for a name that is not canonical.
func Aliases(canonical string) []string {
	a, ok := recipes[canonical]
	if !ok {
		return nil
	}
	out := append([]string(nil), a...)
	sort.Strings(out)
	return out
}

// Names returns the canonical names of every image this package can build,
// sorted.
func Names() []string {
	out := make([]string, 0, len(recipes))
	for name := range recipes {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func allAliases() []string {
	var out []string
	for _, aliases := range recipes {
		out = append(out, aliases...)
	}
	sort.Strings(out)
	return out
}
