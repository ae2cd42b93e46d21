package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/lxmgrd/hostlimits"
)

// TestDoctorGet reads this host's real limits (read only: nothing is
// raised) through the handler.
func TestDoctorGet(t *testing.T) {
	if hostlimits.Unlimited != api.DoctorUnlimited {
		t.Fatalf("hostlimits.Unlimited %d != api.DoctorUnlimited %d", hostlimits.Unlimited, api.DoctorUnlimited)
	}
	ctx := context.Background()
	inv, err := db.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	err = inv.Transaction(ctx, func(tx *db.Tx) error {
		for i := range 2 {
			inst := db.Instance{Name: fmt.Sprintf("g%d", i), IdmapBase: int64(1000000 + i*65536), CreationState: db.StateCreated,
				Config: map[string]string{}, Devices: api.Devices{}, Profiles: []string{}}
			if err := tx.InstanceCreate(ctx, &inst); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{db: inv}
	cases := []struct {
		query  string
		code   int
		guests int
	}{
		{"", http.StatusOK, 2}, // the inventory's count
		{"?guests=500", http.StatusOK, 500},
		{"?guests=0", http.StatusOK, 0},
		{"?guests=-3", http.StatusBadRequest, 0},
		{"?guests=many", http.StatusBadRequest, 0},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		d.doctorGet(w, httptest.NewRequest(http.MethodGet, "/1.0/doctor"+c.query, nil))
		if w.Code != c.code {
			t.Errorf("%s: code %d, want %d: %s", c.query, w.Code, c.code, w.Body)
			continue
		}
		if c.code != http.StatusOK {
			continue
		}
		var env api.Response
		var rep api.DoctorReport
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(env.Metadata, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Guests != c.guests || len(rep.Checks) == 0 || rep.Checks[0].Name != "fs.inotify.max_user_instances" {
			t.Errorf("%s: report %+v", c.query, rep)
		}
	}
}
