package lakecat

import (
	"context"
	"testing"
	"time"

	"github.com/stratadb/strata/storage/objstore"
	"github.com/stratadb/strata/storage/objstore/s3fault"
)

// TestClusterOnS3: the same checks as TestTablesOnEveryNode and
// TestRolesOnEveryNode with the location on a real S3 server (versitygw), whose
// conditional PUT decides the commits.
func TestClusterOnS3(t *testing.T) {
	srv := s3fault.NeedVersitygw(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	must(t, srv.CreateBucket(ctx, "strata-cluster"))
	o := objstore.Options{Endpoint: srv.Endpoint, Region: s3fault.VersitygwRegion, PathStyle: true,
		AccessKey: s3fault.VersitygwAccess, SecretKey: s3fault.VersitygwSecret}
	t.Run("tables", func(t *testing.T) { testTablesOnEveryNode(t, "s3://strata-cluster/c1", o) })
	t.Run("roles", func(t *testing.T) { testRolesOnEveryNode(t, "s3://strata-cluster/c2", o) })
	t.Run("racing creates", func(t *testing.T) { testRacingCreates(t, "s3://strata-cluster/c3", o) })
}
