package api

import "encoding/json"

// ResponseType is the "type" field of every response envelope.
type ResponseType string

// Envelope types.
const (
	SyncResponse  ResponseType = "sync"
	AsyncResponse ResponseType = "async"
	ErrorResponse ResponseType = "error"
)

// Response is the JSON envelope wrapping every reply of the API.
type Response struct {
	Type       ResponseType    `json:"type"`
	Status     string          `json:"status,omitempty"`
	StatusCode int             `json:"status_code,omitempty"`
	Operation  string          `json:"operation,omitempty"`
	ErrorCode  int             `json:"error_code,omitempty"`
	Error      string          `json:"error,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
}

// StatusCode is LXD's numeric status of operations and instances.
type StatusCode int

// Status codes shared with LXD.
const (
	OperationCreated StatusCode = 100
	Started          StatusCode = 101
	Stopped          StatusCode = 102
	Running          StatusCode = 103
	Cancelling       StatusCode = 104
	Pending          StatusCode = 105
	Starting         StatusCode = 106
	Stopping         StatusCode = 107
	Aborting         StatusCode = 108
	Freezing         StatusCode = 109
	Frozen           StatusCode = 110
	Thawed           StatusCode = 111
	Error            StatusCode = 112
	Ready            StatusCode = 113
	Success          StatusCode = 200
	Failure          StatusCode = 400
	Cancelled        StatusCode = 401
)

var statusNames = map[StatusCode]string{
	OperationCreated: "Operation created",
	Started:          "Started",
	Stopped:          "Stopped",
	Running:          "Running",
	Cancelling:       "Cancelling",
	Pending:          "Pending",
	Starting:         "Starting",
	Stopping:         "Stopping",
	Aborting:         "Aborting",
	Freezing:         "Freezing",
	Frozen:           "Frozen",
	Thawed:           "Thawed",
	Error:            "Error",
	Ready:            "Ready",
	Success:          "Success",
	Failure:          "Failure",
	Cancelled:        "Cancelled",
}

// String returns the human name LXD uses for the code ("Running", "Success").
func (c StatusCode) String() string {
	if s, ok := statusNames[c]; ok {
		return s
	}
	return "Unknown"
}

// IsFinal reports whether an operation in this state will not change again.
func (c StatusCode) IsFinal() bool {
	return c == Success || c == Failure || c == Cancelled
}
