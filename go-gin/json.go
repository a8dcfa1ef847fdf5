// Response bodies: field order, timestamp spelling and encoding shared with the Python services.
package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// Python's JSONResponse says plain "application/json"; gin's c.JSON would add a charset.
const jsonContentType = "application/json"

// taskJSON fixes the key order of the contract: id, title, description, done, created_at.
type taskJSON struct {
	ID          int64  `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Done        bool   `json:"done"`
	CreatedAt   string `json:"created_at"`
}

type pageJSON struct {
	Items []taskJSON `json:"items"`
	Next  *string    `json:"next"`
}

type detailJSON struct {
	Detail string `json:"detail"`
}

type validationJSON struct {
	Detail []ValidationItem `json:"detail"`
}

// formatTimestamp always writes six fractional digits and a Z, as models.py does.
func formatTimestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

func newTaskJSON(t Task) taskJSON {
	return taskJSON{t.ID, t.Title, t.Description, t.Done, formatTimestamp(t.CreatedAt)}
}

func newPageJSON(tasks []Task, next *string) pageJSON {
	// make, not a nil slice: an empty page must say "items":[] and never null.
	items := make([]taskJSON, len(tasks))
	for i, t := range tasks {
		items[i] = newTaskJSON(t)
	}
	return pageJSON{Items: items, Next: next}
}

// writeJSON skips HTML escaping so that '<', '>' and '&' go out as the Python services
// send them; either spelling decodes to the same string.
func writeJSON(c *gin.Context, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Unreachable with the types above; answer like a panic would rather than half a body.
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"detail":"Internal Server Error"}` + "\n")
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	c.Header("Content-Length", strconv.Itoa(len(body)))
	c.Data(status, jsonContentType, body)
}

func writeDetail(c *gin.Context, status int, detail string) {
	writeJSON(c, status, detailJSON{Detail: detail})
}
