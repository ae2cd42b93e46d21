package db

import (
	"context"
	"errors"
	"testing"
)

func TestNetworks(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	err := d.Transaction(ctx, func(tx *Tx) error {
		if err := tx.NetworkCreate(ctx, Network{Name: "lxmbr0", Type: "bridge", Config: map[string]string{"ipv4.address": "10.1.2.1/24"}}); err != nil {
			return err
		}
		if err := tx.NetworkCreate(ctx, Network{Name: "lxmbr0", Type: "bridge"}); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate network: %v", err)
		}
		n, err := tx.NetworkGet(ctx, "lxmbr0")
		if err != nil || n.Config["ipv4.address"] != "10.1.2.1/24" {
			t.Errorf("get: %+v %v", n, err)
		}
		n.Config["ipv4.nat"] = "true"
		if err := tx.NetworkUpdate(ctx, n); err != nil {
			return err
		}
		if err := tx.NetworkRename(ctx, "lxmbr0", "br1"); err != nil {
			return err
		}
		list, err := tx.NetworkList(ctx)
		if err != nil || len(list) != 1 || list[0].Name != "br1" || list[0].Config["ipv4.nat"] != "true" {
			t.Errorf("list: %+v %v", list, err)
		}
		if err := tx.NetworkDelete(ctx, "br1"); err != nil {
			return err
		}
		if _, err := tx.NetworkGet(ctx, "br1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("get after delete: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
