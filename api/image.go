package api

import "time"

// ImageAlias is a name pointing at an image.
type ImageAlias struct {
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description" yaml:"description"`
}

// Image is an image as returned by GET /1.0/images/{fingerprint}.
type Image struct {
	Fingerprint  string            `json:"fingerprint" yaml:"fingerprint"`
	Filename     string            `json:"filename" yaml:"filename"`
	Size         int64             `json:"size" yaml:"size"`
	Aliases      []ImageAlias      `json:"aliases" yaml:"aliases"`
	Architecture string            `json:"architecture" yaml:"architecture"`
	Properties   map[string]string `json:"properties" yaml:"properties"`
	Public       bool              `json:"public" yaml:"public"`
	AutoUpdate   bool              `json:"auto_update" yaml:"auto_update"`
	Type         string            `json:"type" yaml:"type"`
	CreatedAt    time.Time         `json:"created_at" yaml:"created_at"`
	UploadedAt   time.Time         `json:"uploaded_at" yaml:"uploaded_at"`
	LastUsedAt   time.Time         `json:"last_used_at" yaml:"last_used_at"`
}

// ImagesPost is the body of POST /1.0/images. lxmgr adds the source type
// "build": the daemon builds the named image locally (debian/12, busybox).
type ImagesPost struct {
	Source  ImagesPostSource `json:"source"`
	Aliases []ImageAlias     `json:"aliases"`
}

// ImagesPostSource names what to build or import.
type ImagesPostSource struct {
	Type string `json:"type"` // "build"
	Name string `json:"name"` // e.g. "debian/12", "busybox"
}
