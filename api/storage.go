package api

import "time"

// StoragePoolPut holds the fields of a pool that PUT replaces.
type StoragePoolPut struct {
	Config      map[string]string `json:"config" yaml:"config"`
	Description string            `json:"description" yaml:"description"`
}

// StoragePool is a storage pool (GET /1.0/storage-pools/{name}).
type StoragePool struct {
	StoragePoolPut `yaml:",inline"`
	Name           string   `json:"name" yaml:"name"`
	Driver         string   `json:"driver" yaml:"driver"`
	Status         string   `json:"status" yaml:"status"` // "Created", "Unavailable"
	UsedBy         []string `json:"used_by" yaml:"used_by"`
}

// StoragePoolsPost is the body of POST /1.0/storage-pools.
type StoragePoolsPost struct {
	StoragePoolPut `yaml:",inline"`
	Name           string `json:"name" yaml:"name"`
	Driver         string `json:"driver" yaml:"driver"`
}

// StoragePoolResources is GET /1.0/storage-pools/{name}/resources.
type StoragePoolResources struct {
	Space StoragePoolSpace `json:"space" yaml:"space"`
}

// StoragePoolSpace is a pool's used and total bytes.
type StoragePoolSpace struct {
	Used  int64 `json:"used" yaml:"used"`
	Total int64 `json:"total" yaml:"total"`
}

// StorageVolume is a volume of a pool (GET .../volumes/{type}/{name}).
type StorageVolume struct {
	Name        string            `json:"name" yaml:"name"`
	Type        string            `json:"type" yaml:"type"` // "container", "custom", "image"
	Config      map[string]string `json:"config" yaml:"config"`
	Description string            `json:"description" yaml:"description"`
	UsedBy      []string          `json:"used_by" yaml:"used_by"`
	ContentType string            `json:"content_type" yaml:"content_type"` // "filesystem"
}

// StorageVolumesPost is the body of POST /1.0/storage-pools/{pool}/volumes/custom.
type StorageVolumesPost struct {
	Name        string            `json:"name" yaml:"name"`
	Type        string            `json:"type" yaml:"type"`
	Config      map[string]string `json:"config" yaml:"config"` // "size"
	Description string            `json:"description" yaml:"description"`
}

// InstanceSnapshot is a snapshot of an instance (GET /1.0/instances/{name}/snapshots/{snap}).
type InstanceSnapshot struct {
	Name         string            `json:"name" yaml:"name"`
	CreatedAt    time.Time         `json:"created_at" yaml:"created_at"`
	ExpiresAt    time.Time         `json:"expires_at" yaml:"expires_at"`
	Stateful     bool              `json:"stateful" yaml:"stateful"`
	Config       map[string]string `json:"config" yaml:"config"`
	Devices      Devices           `json:"devices" yaml:"devices"`
	Profiles     []string          `json:"profiles" yaml:"profiles"`
	Architecture string            `json:"architecture" yaml:"architecture"`
	Size         int64             `json:"size" yaml:"size"`
}

// InstanceSnapshotsPost is the body of POST /1.0/instances/{name}/snapshots.
type InstanceSnapshotsPost struct {
	Name     string `json:"name" yaml:"name"`
	Stateful bool   `json:"stateful" yaml:"stateful"`
}
