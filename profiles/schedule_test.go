package profiles

import (
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04 Mon", s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	cases := []struct {
		sched, when string
		want        bool
	}{
		{"* * * * *", "2026-11-30 11:23 Mon", true},
		{"@hourly", "2026-11-30 11:00 Mon", true},
		{"@hourly", "2026-11-30 11:01 Mon", false},
		{"@daily", "2026-11-30 00:00 Mon", true},
		{"*/15 * * * *", "2026-11-30 11:45 Mon", true},
		{"*/15 * * * *", "2026-11-30 11:44 Mon", false},
		{"0 2 * * 1-5", "2026-11-30 02:00 Mon", true},
		{"0 2 * * 1-5", "2026-11-29 02:00 Sun", false},
		{"30 4 1,15 * *", "2026-11-15 04:30 Sun", true},
		{"0 0 13 * 5", "2026-11-13 00:00 Fri", true}, // either day field
		{"0 0 13 * 5", "2026-11-20 00:00 Fri", true},
		{"0 0 13 * 5", "2026-11-21 00:00 Sat", false},
	}
	for _, c := range cases {
		s, err := ParseSchedule(c.sched)
		if err != nil {
			t.Fatalf("%q: %v", c.sched, err)
		}
		if got := s.Match(at(c.when)); got != c.want {
			t.Errorf("%q at %s = %v, want %v", c.sched, c.when, got, c.want)
		}
	}
	for _, bad := range []string{"", "* * * *", "61 * * * *", "* 24 * * *", "*/0 * * * *", "a * * * *", "5-1 * * * *", "@yearly"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", bad)
		}
	}
}

func TestExpiry(t *testing.T) {
	cases := map[string]time.Duration{"30M": 30 * time.Minute, "12H": 12 * time.Hour, "7d": 7 * 24 * time.Hour,
		"2w": 14 * 24 * time.Hour, "1d 12H": 36 * time.Hour}
	for in, want := range cases {
		if got, err := ParseExpiry(in); err != nil || got != want {
			t.Errorf("ParseExpiry(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "5", "0d", "-1d", "3x", "d"} {
		if _, err := ParseExpiry(bad); err == nil {
			t.Errorf("ParseExpiry(%q) accepted", bad)
		}
	}
}
