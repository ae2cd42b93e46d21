package profiles

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed snapshots.schedule: a five-field cron expression
// (minute hour day-of-month month day-of-week) or @hourly, @daily,
// @weekly, @monthly.
type Schedule struct {
	fields [5]map[int]bool
	// domStar and dowStar follow cron: when both day fields are
	// restricted, a day matching either one matches.
	domStar, dowStar bool
}

var scheduleAliases = map[string]string{
	"@hourly":  "0 * * * *",
	"@daily":   "0 0 * * *",
	"@weekly":  "0 0 * * 0",
	"@monthly": "0 0 1 * *",
}

var fieldRanges = [5][2]int{{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 6}}

// ParseSchedule parses a snapshots.schedule value.
func ParseSchedule(s string) (Schedule, error) {
	if a, ok := scheduleAliases[s]; ok {
		s = a
	}
	parts := strings.Fields(s)
	if len(parts) != 5 {
		return Schedule{}, fmt.Errorf("want five cron fields (minute hour day month weekday) or @hourly/@daily/@weekly/@monthly, got %q", s)
	}
	var sch Schedule
	for i, p := range parts {
		set, err := parseField(p, fieldRanges[i][0], fieldRanges[i][1])
		if err != nil {
			return Schedule{}, fmt.Errorf("cron field %d (%q): %w", i+1, p, err)
		}
		sch.fields[i] = set
	}
	sch.domStar, sch.dowStar = parts[2] == "*", parts[4] == "*"
	return sch, nil
}

// parseField reads one cron field: *, N, A-B, lists of those, each with an
// optional /step.
func parseField(f string, lo, hi int) (map[int]bool, error) {
	set := map[int]bool{}
	for _, item := range strings.Split(f, ",") {
		rng, stepStr, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("bad step %q", stepStr)
			}
			step = n
		}
		from, to := lo, hi
		if rng != "*" {
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if from, err = strconv.Atoi(a); err != nil {
				return nil, fmt.Errorf("bad value %q", a)
			}
			to = from
			if isRange {
				if to, err = strconv.Atoi(b); err != nil {
					return nil, fmt.Errorf("bad value %q", b)
				}
			} else if hasStep {
				to = hi
			}
		}
		if from < lo || to > hi || from > to {
			return nil, fmt.Errorf("%d-%d is outside %d-%d", from, to, lo, hi)
		}
		for v := from; v <= to; v += step {
			set[v] = true
		}
	}
	return set, nil
}

// Match reports whether the schedule fires in the minute of t.
func (s Schedule) Match(t time.Time) bool {
	if !s.fields[0][t.Minute()] || !s.fields[1][t.Hour()] || !s.fields[3][int(t.Month())] {
		return false
	}
	dom, dow := s.fields[2][t.Day()], s.fields[4][int(t.Weekday())]
	if !s.domStar && !s.dowStar {
		return dom || dow
	}
	return dom && dow
}

// ParseExpiry parses snapshots.expiry: a number with a unit, M (minutes),
// H (hours), d (days), w (weeks), m (months of 30 days) or y (years of 365
// days), possibly several ("1d 12H").
func ParseExpiry(s string) (time.Duration, error) {
	units := map[byte]time.Duration{'M': time.Minute, 'H': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour,
		'm': 30 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}
	var total time.Duration
	parts := strings.Fields(s)
	if len(parts) == 0 {
		return 0, fmt.Errorf("empty expiry")
	}
	for _, p := range parts {
		unit, ok := units[p[len(p)-1]]
		n, err := strconv.Atoi(p[:len(p)-1])
		if !ok || err != nil || n < 1 {
			return 0, fmt.Errorf("bad expiry %q (use e.g. 30M, 12H, 7d, 2w, 1m, 1y)", p)
		}
		total += time.Duration(n) * unit
	}
	return total, nil
}

func validSchedule(v string) error {
	_, err := ParseSchedule(v)
	return err
}

func validExpiry(v string) error {
	_, err := ParseExpiry(v)
	return err
}
