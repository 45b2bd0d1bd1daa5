package main
import (
 _ "github.com/pganalyze/pg_query_go/v6"
 _ "github.com/apache/arrow-go/v18/arrow/array"
 _ "github.com/apache/arrow-go/v18/arrow/compute"
 _ "github.com/RoaringBitmap/roaring/v2"
 _ "github.com/cockroachdb/pebble"
 _ "github.com/jackc/pgx/v5"
 _ "github.com/jackc/pgx/v5/pgproto3"
 _ "github.com/klauspost/compress/zstd"
 _ "github.com/lib/pq"
)
func main(){}
