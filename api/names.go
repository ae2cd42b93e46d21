package api

import (
	"fmt"
	"strings"
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
