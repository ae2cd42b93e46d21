package api

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"web1", true},
		{"a", true},
		{"Web-01", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), false},
		{"", false},
		{"-abc", false},
		{"abc-", false},
		{"1234", false},
		{"1abc", false},
		{"foo.bar", false},
		{"a_b", false},
		{"../x", false},
		{"a/b", false},
		{"a b", false},
		{"a\nb", false},
		{"a\x00b", false},
		{"ä", false},
	}
	for _, c := range cases {
		err := ValidateName("instance", c.name)
		if (err == nil) != c.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateName(%q) error %v does not wrap ErrInvalid", c.name, err)
		}
	}
}

func TestValidEnvName(t *testing.T) {
	for name, ok := range map[string]bool{
		"HTTP_PROXY": true, "FOO-BAR": true, "1X": true, "a.b": true, "ä": true,
		"": false, "A=B": false, "=": false, "A B": false, "A\tB": false, "A\nB": false,
		"A\x00B": false, "A\x7fB": false, "A\u00a0B": false,
	} {
		if got := ValidEnvName(name); got != ok {
			t.Errorf("ValidEnvName(%q) = %v, want %v", name, got, ok)
		}
	}
}
