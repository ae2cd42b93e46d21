package api

// Server is the reply of GET /1.0.
type Server struct {
	APIExtensions []string          `json:"api_extensions"`
	APIStatus     string            `json:"api_status"`
	APIVersion    string            `json:"api_version"`
	Auth          string            `json:"auth"`
	Public        bool              `json:"public"`
	AuthMethods   []string          `json:"auth_methods"`
	Config        map[string]string `json:"config"`
	Environment   ServerEnvironment `json:"environment"`
}

// ServerEnvironment describes the host and the daemon.
type ServerEnvironment struct {
	Architectures []string `json:"architectures"`
	Driver        string   `json:"driver"`
	DriverVersion string   `json:"driver_version"`
	Kernel        string   `json:"kernel"`
	KernelVersion string   `json:"kernel_version"`
	Server        string   `json:"server"`
	ServerName    string   `json:"server_name"`
	ServerPid     int      `json:"server_pid"`
	ServerVersion string   `json:"server_version"`
	StorageDriver string   `json:"storage"`
}
