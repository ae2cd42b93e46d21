package api

import (
	"fmt"
	"strings"
	"unicode"
)

// ValidateName checks that name is usable as the name of an instance,
// snapshot, profile, pool or network: hostname-like (RFC 1123 label), 1 to
// 63 characters of ASCII letters, digits and '-', not starting with a digit
// or '-', not ending with '-'. Such a name is safe in a path and in a liblxc
// config. kind ("instance", "profile") only shapes the message.
func ValidateName(kind, name string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: invalid %s name %q: %s", ErrInvalid, kind, name, why)
	}
	switch {
	case name == "":
		return fmt.Errorf("%w: %s name is empty", ErrInvalid, kind)
	case len(name) > 63:
		return bad("longer than 63 characters")
	case name[0] == '-':
		return bad("must not start with '-'")
	case name[0] >= '0' && name[0] <= '9':
		return bad("must not start with a digit")
	case strings.HasSuffix(name, "-"):
		return bad("must not end with '-'")
	}
	for _, r := range name {
		ok := r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return bad(fmt.Sprintf("character %q is not allowed (only letters, digits and '-')", r))
		}
	}
	return nil
}

// ValidEnvName reports whether name may be the name of an environment
// variable set in a guest (config keys environment.NAME): not empty, no '='
// (execve's "NAME=value" would split there), no whitespace or control
// characters (liblxc config lines are trimmed and split on them). Anything
// else execve can carry is allowed ("FOO-BAR", "1X", "a.b"): shells cannot
// name such variables, but other programs read them. This is the one rule;
// the schema and the container driver both use it.
func ValidEnvName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if r == '=' || r < 0x20 || r == 0x7f || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}
