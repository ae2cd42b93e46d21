package db

import (
	"encoding/json"
	"fmt"
	"time"
)

// toJSON encodes a map or list for a JSON text column; nil is stored as an
// empty object or list so readers never see "null".
func toJSON(v any, empty string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode json: %w", err)
	}
	if string(b) == "null" {
		return empty, nil
	}
	return string(b), nil
}

// fromJSON decodes a JSON text column into dst.
func fromJSON(s string, dst any, column string) error {
	if err := json.Unmarshal([]byte(s), dst); err != nil {
		return fmt.Errorf("decode %s: %w", column, err)
	}
	return nil
}

// toTime stores a time as Unix nanoseconds; the zero time is 0.
func toTime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromTime is the inverse of toTime; times come back in UTC.
func fromTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
