// HTTP routes of the tasks API on gin, built apart from main so tests can drive it directly.
package main

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
)

type RouterOptions struct {
	CursorKey []byte
	// AccessLog receives gin's request log; nil turns it off.
	AccessLog io.Writer
	// ErrorLog receives panics and unexpected store errors; nil means io.Discard.
	ErrorLog io.Writer
}

// allowedMethods spells the Allow header of each path for a 405.
var allowedMethods = map[string]string{
	"/tasks/":       "GET, POST",
	"/ping/":        "GET",
	"/openapi.json": "GET",
}

// openapiDocument is the FastAPI app's own /openapi.json, generated from it
// (`uv run python -m taskapi.openapi > go-gin/openapi.json`); tests/test_openapi.py keeps
// it from drifting, so both stacks describe the one contract.
//
//go:embed openapi.json
var openapiDocument []byte

type handlers struct {
	store    Store
	cursors  *CursorCodec
	errorLog io.Writer
}

func NewRouter(store Store, opts RouterOptions) *gin.Engine {
	if opts.ErrorLog == nil {
		opts.ErrorLog = io.Discard
	}
	if opts.CursorKey == nil {
		opts.CursorKey = []byte(DefaultCursorKey)
	}
	r := gin.New()
	// The contract has no redirects: "/tasks" is a 404, not a 301 to "/tasks/".
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	if opts.AccessLog != nil {
		r.Use(gin.LoggerWithWriter(opts.AccessLog))
	}
	r.Use(gin.CustomRecoveryWithWriter(opts.ErrorLog, func(c *gin.Context, _ any) {
		writeDetail(c, http.StatusInternalServerError, "Internal Server Error")
		c.Abort()
	}))
	r.Use(bodyLimit)

	h := &handlers{store: store, cursors: NewCursorCodec(opts.CursorKey), errorLog: opts.ErrorLog}
	r.GET("/ping/", h.ping)
	r.GET("/tasks/", h.listTasks)
	r.POST("/tasks/", h.createTask)
	r.GET("/openapi.json", serveOpenAPI)
	r.NoRoute(func(c *gin.Context) {
		writeDetail(c, http.StatusNotFound, "Not Found")
	})
	r.NoMethod(func(c *gin.Context) {
		// gin derives Allow from registration order; pin the contract's spelling instead.
		if allow, ok := allowedMethods[c.Request.URL.Path]; ok {
			c.Header("Allow", allow)
		}
		writeDetail(c, http.StatusMethodNotAllowed, "Method Not Allowed")
	})
	return r
}

// bodyLimit answers 413 to any request whose declared body is over the limit, before
// routing, as the Python services' middleware does: even GET /ping/ or an unknown path.
// Connection: close spares the server from draining a body nobody will read.
func bodyLimit(c *gin.Context) {
	if c.Request.ContentLength > maxBodyBytes {
		tooLarge(c)
		c.Abort()
		return
	}
	c.Next()
}

func tooLarge(c *gin.Context) {
	c.Writer.Header().Del("Allow") // gin sets it for a 405 before any middleware runs
	c.Header("Connection", "close")
	writeDetail(c, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
}

func serveOpenAPI(c *gin.Context) {
	c.Header("Content-Length", strconv.Itoa(len(openapiDocument)))
	c.Data(http.StatusOK, jsonContentType, openapiDocument)
}

func (h *handlers) ping(c *gin.Context) {
	writeJSON(c, http.StatusOK, map[string]string{"ping": "pong"})
}

// listTasks validates limit before the cursor: FastAPI checks declared parameters before
// the endpoint body, where the Python services decode the cursor.
func (h *handlers) listTasks(c *gin.Context) {
	rawQuery := c.Request.URL.RawQuery
	limit := defaultLimit
	if raw, ok := lastQueryValue(rawQuery, "limit"); ok {
		n, item := parseLimit(raw)
		if item != nil {
			writeJSON(c, http.StatusUnprocessableEntity, validationJSON{Detail: []ValidationItem{*item}})
			return
		}
		limit = n
	}
	var afterID int64
	if raw, ok := lastQueryValue(rawQuery, "after"); ok {
		id, err := h.cursors.Decode(raw)
		if err != nil {
			writeDetail(c, http.StatusBadRequest, "invalid cursor")
			return
		}
		afterID = id
	}

	tasks, err := h.store.List(c.Request.Context(), afterID, limit)
	if err != nil {
		h.storeFailed(c, err)
		return
	}
	var next *string
	if len(tasks) == limit {
		token := h.cursors.Encode(tasks[len(tasks)-1].ID)
		next = &token
	}
	writeJSON(c, http.StatusOK, newPageJSON(tasks, next))
}

func (h *handlers) createTask(c *gin.Context) {
	body, err := readBody(c.Request)
	switch {
	case errors.Is(err, errBodyTooLarge):
		tooLarge(c)
		return
	case err != nil:
		// The client broke off mid-body; FastAPI's answer for an unreadable body.
		writeDetail(c, http.StatusBadRequest, "There was an error parsing the body")
		return
	}
	in, items := ValidateTaskBody(c.GetHeader("Content-Type"), body)
	if len(items) > 0 {
		writeJSON(c, http.StatusUnprocessableEntity, validationJSON{Detail: items})
		return
	}

	task, err := h.store.Create(c.Request.Context(), in.Title, in.Description)
	if err != nil {
		h.storeFailed(c, err)
		return
	}
	writeJSON(c, http.StatusCreated, newTaskJSON(task))
}

func (h *handlers) storeFailed(c *gin.Context, err error) {
	var unavailable *UnavailableError
	if errors.As(err, &unavailable) {
		c.Header("Retry-After", "1")
		writeDetail(c, http.StatusServiceUnavailable, "database unavailable: "+unavailable.Cause)
		return
	}
	fmt.Fprintf(h.errorLog, "go-gin: %s %s: %v\n", c.Request.Method, c.Request.URL.Path, err)
	writeDetail(c, http.StatusInternalServerError, "Internal Server Error")
}
