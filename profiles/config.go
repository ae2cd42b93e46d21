package profiles

import (
	"fmt"
	"sort"
	"strings"
)

// ValidateConfig checks an instance or profile config: every key must be in
// the schema and every value must pass the key's validator and be free of
// newline, carriage return and NUL (values end up in liblxc configs and
// environment blocks). An empty value is accepted for every key: as in LXD
// it means "unset, use the default". Keys are checked in sorted order so the
// error for a given map is deterministic. Internal (volatile.*) keys are
// accepted; use ValidateUserConfig for input coming from users.
func ValidateConfig(cfg map[string]string) error {
	return validateConfig(cfg, false)
}

// ValidateUserConfig is ValidateConfig for config written by a user through
// the API: it additionally refuses internal keys (volatile.*) with
// ErrReadOnlyKey.
func ValidateUserConfig(cfg map[string]string) error {
	return validateConfig(cfg, true)
}

func validateConfig(cfg map[string]string, user bool) error {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := ValidateKey(k, cfg[k]); err != nil {
			return err
		}
		if user {
			if spec, _ := Lookup(k); spec.Internal {
				return fmt.Errorf("config key %q: %w", k, ErrReadOnlyKey)
			}
		}
	}
	return nil
}

// ValidateKey checks one key and its value (see ValidateConfig).
func ValidateKey(key, value string) error {
	spec, ok := Lookup(key)
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownKey, key)
	}
	if strings.ContainsAny(value, "\n\r\x00") {
		return fmt.Errorf("config key %q: %w %q: contains a newline or NUL", key, ErrInvalidValue, value)
	}
	if value == "" {
		return nil
	}
	if err := spec.Validate(value); err != nil {
		return fmt.Errorf("config key %q: %w %q: %v", key, ErrInvalidValue, value, err)
	}
	return nil
}
