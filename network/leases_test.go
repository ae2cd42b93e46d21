package network

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLeases(t *testing.T) {
	dir := t.TempDir()
	if ls, err := Leases(dir); err != nil || ls != nil {
		t.Fatalf("missing file: %v, %v", ls, err)
	}
	sample := "1767225600 00:16:3e:aa:bb:01 10.231.5.10 web1 01:00:16:3e:aa:bb:01\n" +
		"0 00:16:3e:aa:bb:02 10.231.5.11 * *\n" +
		"duid 00:01:00:01:2c:00:00:00:00:16:3e:00:00:00\n" +
		"1767225600 1234 fd42::10 web1 00:01:00:01\n" +
		"garbage line\n"
	path := filepath.Join(dir, "dnsmasq.leases")
	if err := os.WriteFile(path, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	ls, err := Leases(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Lease{
		{MAC: "00:16:3e:aa:bb:01", Hostname: "web1", ClientID: "01:00:16:3e:aa:bb:01", IP: netip.MustParseAddr("10.231.5.10"), Expiry: time.Unix(1767225600, 0)},
		{MAC: "00:16:3e:aa:bb:02", IP: netip.MustParseAddr("10.231.5.11")},
	}
	if len(ls) != len(want) {
		t.Fatalf("leases %+v, want %+v", ls, want)
	}
	for i := range want {
		if ls[i].MAC != want[i].MAC || ls[i].Hostname != want[i].Hostname || ls[i].ClientID != want[i].ClientID || ls[i].IP != want[i].IP || !ls[i].Expiry.Equal(want[i].Expiry) {
			t.Errorf("lease %d = %+v, want %+v", i, ls[i], want[i])
		}
	}
	ls[0].Hostname = "changed" // the cache must not be shared with callers
	again, _ := Leases(dir)
	if again[0].Hostname != "web1" {
		t.Errorf("cache was modified through a returned slice")
	}
	// A rewrite (new size and mtime) is seen.
	if err := os.WriteFile(path, []byte("0 00:16:3e:aa:bb:03 10.231.5.12 db1 *\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(path, time.Now().Add(time.Second), time.Now().Add(time.Second))
	ls, _ = Leases(dir)
	if len(ls) != 1 || ls[0].Hostname != "db1" {
		t.Errorf("after rewrite: %+v", ls)
	}
}
