# Fuzzes the input functions of task_group and listener_group: mutated
# literals (bytes flipped, inserted and deleted, fragments repeated, keys and
# fragments of other literals spliced in, deep nesting) go through text
# input, and mutated binary values through recv (binary COPY).  Every
# rejection must be one of the types' own errors, every accepted value must
# come back equal through its output (and through jsonb; in binary, its send
# must be the bytes it was read from), and the server must stay up.
#
# The mutation runs inside the server (PL/pgSQL, one subtransaction per
# literal), in a UTF8 database and in an SQL_ASCII one, where chr() yields
# raw bytes that are not valid UTF-8.  Then a LATIN1 database sends a long
# listener id to a UTF8 client and reads it back.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Literals per type and database; the UTF8 database gets the bulk.
my %text_rounds = (fuzz_utf8 => 10, fuzz_ascii => 3);
my $text_batch = 10000;
my %recv_count = (fuzz_utf8 => 5000, fuzz_ascii => 2000);

my $node = PostgreSQL::Test::Cluster->new('fuzz');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'role_cluster'");
$node->start;

my $tmp = PostgreSQL::Test::Utils::tempdir;

$node->safe_psql('postgres', q{
	CREATE DATABASE fuzz_utf8 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
	CREATE DATABASE fuzz_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
});

# The seeds: valid literals of both types in every input form.
my $setup = <<'SQL';
CREATE EXTENSION role_cluster;

CREATE TABLE fuzz_seed (typ text, lit text);
INSERT INTO fuzz_seed VALUES
	('task_group', 'EnableAll'),
	('task_group', 'DisableAll'),
	('task_group', 'EnableSome(searchIndexing, metricsPush)'),
	('task_group', 'DisableSome()'),
	('task_group', 'EnableSome("storeMaintenance", taskScheduler, outboundMta)'),
	('task_group', '{"@type":"EnableAll"}'),
	('task_group', '{"@type":"DisableAll"}'),
	('task_group', '{"@type":"EnableSome","taskTypes":["searchIndexing","metricsPush"]}'),
	('task_group', '{"taskTypes":["spamClassifierTraining"],"@type":"DisableSome"}'),
	('task_group', '{"@type":"EnableSome","taskTypes":[]}'),
	('task_group', '{"@type":"EnableSome","taskTypes":{"searchIndexing":true,"metricsPush":false,"outboundMta":null}}'),
	('task_group', ' { "@type" : "DisableSome" , "taskTypes" : { "taskQueueProcessing" : true } } '),
	('listener_group', 'EnableAll'),
	('listener_group', 'DisableAll'),
	('listener_group', 'EnableSome(imap, smtp)'),
	('listener_group', 'DisableSome()'),
	('listener_group', 'EnableSome("a b", "q\"uote", "\u00e9", x-1.y:2)'),
	('listener_group', '{"@type":"EnableAll"}'),
	('listener_group', '{"@type":"EnableSome","listenerIds":["imap","smtp","web"]}'),
	('listener_group', '{"listenerIds":["http"],"@type":"DisableSome"}'),
	('listener_group', '{"@type":"EnableSome","listenerIds":[]}'),
	('listener_group', '{"@type":"EnableSome","listenerIds":{"imap":true,"pop3":false,"web":null}}'),
	('listener_group', '{"@type":"DisableSome","listenerIds":["\u20ac","\\","a\/b"]}');

-- A random character: mostly JSON and short-form syntax, sometimes any
-- byte (a raw byte in SQL_ASCII, a Latin-1 character in UTF8).
CREATE FUNCTION fuzz_char() RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
	alphabet text[] := ARRAY['{', '}', '[', ']', '"', ':', ',', '\', ' ', '(', ')', '@', 'u',
		'0', 'a', 'E', 'true', 'false', 'null', '1e5', '-', chr(1), chr(9), chr(10), chr(127),
		'é', '€', '\u0000', '\u00e9', '\ud800', '\"', '""', '\n', 'Some', 'All'];
BEGIN
	IF random() < 0.75 THEN
		RETURN alphabet[1 + floor(random() * array_length(alphabet, 1))::int];
	END IF;
	RETURN chr(1 + floor(random() * 255)::int);
END
$f$;

-- One to four random mutations of a literal.
CREATE FUNCTION fuzz_mutate(lit text, seeds text[]) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
	keys text[] := ARRAY['"@type":"EnableAll",', '"@type":"EnableSome",', '"taskTypes":["metricsPush"],',
		'"listenerIds":{"a":true},', ',"x":1', '"@type":', ':true', '"taskTypes":', '"listenerIds":[',
		',"metricsPush"', ',"taskScheduler":false', '{}', '[]', 'EnableSome(', 'DisableAll', '),'];
	nests text[] := ARRAY['[', '{"a":', '{"taskTypes":', '["', '(', '{"@type":', '{"listenerIds":{"x":'];
	names text[] := enum_range(NULL::role_cluster.task_type)::text[]
		|| ARRAY['imap', 'smtp', 'web', 'x', 'EnableAll', 'DisableSome'];
	len int;
	pos int;
	frag text;
	other text;
BEGIN
	FOR i IN 1 .. 1 + floor(random() * 4)::int LOOP
		len := length(lit);
		pos := floor(random() * (len + 1))::int;
		CASE floor(random() * 13)::int
			WHEN 0 THEN		-- replace a character
				lit := overlay(lit PLACING fuzz_char() FROM pos + 1 FOR 1);
			WHEN 1 THEN		-- insert a character
				lit := overlay(lit PLACING fuzz_char() FROM pos + 1 FOR 0);
			WHEN 2 THEN		-- delete a few characters
				lit := overlay(lit PLACING '' FROM pos + 1 FOR 1 + floor(random() * 4)::int);
			WHEN 3 THEN		-- repeat a fragment
				frag := substr(lit, pos + 1, 1 + floor(random() * 20)::int);
				lit := overlay(lit PLACING repeat(frag, 1 + floor(random() * 6)::int) FROM pos + 1 FOR 0);
			WHEN 4 THEN		-- splice in a fragment of another literal
				other := seeds[1 + floor(random() * array_length(seeds, 1))::int];
				frag := substr(other, 1 + floor(random() * length(other))::int, 1 + floor(random() * 30)::int);
				lit := overlay(lit PLACING frag FROM pos + 1 FOR floor(random() * 3)::int);
			WHEN 5 THEN		-- deep nesting
				lit := overlay(lit PLACING repeat(nests[1 + floor(random() * array_length(nests, 1))::int],
					CASE WHEN random() < 0.1 THEN 1 + floor(random() * 5000)::int
						ELSE 1 + floor(random() * 5)::int END) FROM pos + 1 FOR 0);
			WHEN 6 THEN		-- truncate
				lit := left(lit, pos);
			WHEN 7 THEN		-- change the case of a character
				frag := substr(lit, pos + 1, 1);
				lit := overlay(lit PLACING CASE WHEN frag = lower(frag) THEN upper(frag) ELSE lower(frag) END
					FROM pos + 1 FOR 1);
			WHEN 8 THEN		-- splice in a key or a piece of syntax
				lit := overlay(lit PLACING keys[1 + floor(random() * array_length(keys, 1))::int] FROM pos + 1 FOR 0);
			WHEN 9 THEN		-- a long run (ids and names over the length limit)
				lit := overlay(lit PLACING repeat(CASE WHEN random() < 0.5 THEN 'x' ELSE 'é' END,
					200 + floor(random() * 100)::int) FROM pos + 1 FOR 0);
			WHEN 10 THEN	-- swap two halves
				lit := substr(lit, pos + 1) || left(lit, pos);
			WHEN 11 THEN	-- replace one of the first words by a name
				lit := regexp_replace(lit, '[A-Za-z]{2,}', names[1 + floor(random() * array_length(names, 1))::int],
					1, 1 + floor(random() * 4)::int);
			ELSE			-- insert a list entry
				lit := overlay(lit PLACING format(CASE WHEN random() < 0.5 THEN ',%s' ELSE ',"%s"' END,
					names[1 + floor(random() * array_length(names, 1))::int]) FROM pos + 1 FOR 0);
		END CASE;
	END LOOP;
	RETURN lit;
END
$f$;

-- Feeds n mutated literals of one type to its text input.
CREATE FUNCTION fuzz_text(typ text, n int, rseed float8,
	OUT accepted int, OUT rejected int, OUT e22p02 int, OUT e22023 int,
	OUT other int, OUT unicode int, OUT bad_round_trip int, OUT distinct_accepted int, OUT sample text)
LANGUAGE plpgsql SET search_path = role_cluster, public AS $f$
DECLARE
	seeds text[] := ARRAY(SELECT lit FROM fuzz_seed s WHERE s.typ = fuzz_text.typ);
	lit text;
	tg task_group;
	lg listener_group;
	ok boolean;
	st text;
	msg text;
	seen text[] := '{}';
BEGIN
	accepted := 0; rejected := 0; e22p02 := 0; e22023 := 0; other := 0; unicode := 0;
	bad_round_trip := 0; sample := '';
	PERFORM setseed(rseed);
	FOR i IN 1 .. n LOOP
		lit := fuzz_mutate(seeds[1 + floor(random() * array_length(seeds, 1))::int], seeds);
		ok := false;
		BEGIN
			IF typ = 'task_group' THEN
				tg := lit::task_group;
			ELSE
				lg := lit::listener_group;
			END IF;
			ok := true;
		EXCEPTION WHEN others THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
			rejected := rejected + 1;
			IF st = '22P02' THEN
				e22p02 := e22p02 + 1;
			ELSIF st = '22023' THEN
				e22023 := e22023 + 1;
			ELSIF st IN ('0A000', '22P05') AND strpos(lit, '\u') > 0 THEN
				-- PostgreSQL's JSON lexer: a \u escape the database encoding
				-- cannot hold (in SQL_ASCII, any above U+007F), as for jsonb
				unicode := unicode + 1;
			ELSE
				other := other + 1;
				IF length(sample) < 3000 THEN
					sample := sample || format(E'\n%s %s <%s>', st, left(msg, 200), left(lit, 200));
				END IF;
			END IF;
		END;
		CONTINUE WHEN NOT ok;
		accepted := accepted + 1;
		BEGIN
			IF typ = 'task_group' THEN
				ok := tg::text::task_group = tg AND tg::text::task_group::text = tg::text
					AND tg::jsonb::task_group = tg;
				IF array_length(seen, 1) IS NULL OR array_length(seen, 1) < 1000 THEN
					seen := seen || tg::text;
				END IF;
			ELSE
				ok := lg::text::listener_group = lg AND lg::text::listener_group::text = lg::text
					AND lg::jsonb::listener_group = lg;
				IF array_length(seen, 1) IS NULL OR array_length(seen, 1) < 1000 THEN
					seen := seen || lg::text;
				END IF;
			END IF;
		EXCEPTION WHEN others THEN
			GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
			ok := false;
			sample := sample || format(E'\nround trip error %s <%s>', left(msg, 200), left(lit, 200));
		END;
		IF NOT ok THEN
			bad_round_trip := bad_round_trip + 1;
			IF length(sample) < 3000 THEN
				sample := sample || format(E'\nround trip <%s>', left(lit, 200));
			END IF;
		END IF;
	END LOOP;
	distinct_accepted := (SELECT count(DISTINCT s) FROM unnest(seen) s);
END
$f$;

-- Binary input: mutated send() output written by a bytea's binary COPY
-- (whose field is the raw bytes) and read back as the group type.
CREATE TABLE recv_seed (typ text, b bytea);
INSERT INTO recv_seed
	SELECT 'task_group', role_cluster.task_group_send(g::role_cluster.task_group)
	FROM unnest(ARRAY['EnableAll', 'DisableAll', 'EnableSome(metricsPush, searchIndexing)',
		'DisableSome(taskScheduler)', 'EnableSome()']) g
	UNION ALL
	SELECT 'listener_group', role_cluster.listener_group_send(g::role_cluster.listener_group)
	FROM unnest(ARRAY['EnableAll', 'DisableSome()', 'EnableSome(imap, smtp, web)',
		'DisableSome(a, b)', 'EnableSome(x)']) g;
CREATE TABLE recv_task_group (g role_cluster.task_group);
CREATE TABLE recv_listener_group (g role_cluster.listener_group);

CREATE FUNCTION fuzz_bytes(b bytea) RETURNS bytea LANGUAGE plpgsql AS $f$
DECLARE
	ints int[] := ARRAY[-1, 0, 1, 2, 3, 4, 255, 256, 1024, 1025, 65535, 2147483647, -2147483648];
	pos int;
BEGIN
	FOR i IN 1 .. 1 + floor(random() * 3)::int LOOP
		pos := floor(random() * (length(b) + 1))::int;
		CASE floor(random() * 6)::int
			WHEN 0 THEN		-- set a byte
				IF pos < length(b) THEN
					b := set_byte(b, pos, floor(random() * 256)::int);
				END IF;
			WHEN 1 THEN		-- truncate
				b := substring(b FROM 1 FOR pos);
			WHEN 2 THEN		-- append or insert a few random bytes
				b := overlay(b PLACING substring(decode(md5(random()::text), 'hex') FROM 1
					FOR 1 + floor(random() * 6)::int) FROM pos + 1 FOR 0);
			WHEN 3 THEN		-- overwrite a count or a length
				b := overlay(b PLACING int4send(ints[1 + floor(random() * array_length(ints, 1))::int])
					FROM pos + 1 FOR 4);
			WHEN 4 THEN		-- repeat a fragment
				b := overlay(b PLACING substring(b FROM pos + 1 FOR 1 + floor(random() * 8)::int) FROM pos + 1 FOR 0);
			ELSE			-- a byte that is invalid or special in UTF-8
				b := overlay(b PLACING decode((ARRAY['00', 'ff', 'c3', '80', '0a', '7f', 'e282'])[1 + floor(random() * 7)::int], 'hex')
					FROM pos + 1 FOR floor(random() * 2)::int);
		END CASE;
	END LOOP;
	RETURN b;
END
$f$;

-- Are the ids of a valid listener_group binary value in ascending byte
-- order (as send writes them; recv takes any order)?
CREATE FUNCTION ids_sorted(b bytea) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE
	n int := (get_byte(b, 1) << 24) | (get_byte(b, 2) << 16) | (get_byte(b, 3) << 8) | get_byte(b, 4);
	pos int := 5;
	len int;
	prev bytea;
	cur bytea;
BEGIN
	FOR i IN 1 .. n LOOP
		len := (get_byte(b, pos) << 24) | (get_byte(b, pos + 1) << 16)
			| (get_byte(b, pos + 2) << 8) | get_byte(b, pos + 3);
		cur := substring(b FROM pos + 5 FOR len);
		pos := pos + 4 + len;
		IF prev >= cur THEN
			RETURN false;
		END IF;
		prev := cur;
	END LOOP;
	RETURN true;
END
$f$;

CREATE FUNCTION fuzz_recv(typ text, n int, rseed float8, path text,
	OUT accepted int, OUT rejected int, OUT other int, OUT bad_round_trip int, OUT sample text)
LANGUAGE plpgsql SET search_path = role_cluster, public AS $f$
DECLARE
	seeds bytea[] := ARRAY(SELECT r.b FROM recv_seed r WHERE r.typ = fuzz_recv.typ);
	b bytea;
	ok boolean;
	st text;
	msg text;
BEGIN
	accepted := 0; rejected := 0; other := 0; bad_round_trip := 0; sample := '';
	PERFORM setseed(rseed);
	FOR i IN 1 .. n LOOP
		b := fuzz_bytes(seeds[1 + floor(random() * array_length(seeds, 1))::int]);
		ok := false;
		BEGIN
			EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', b, path);
			EXECUTE format('COPY public.%I FROM %L (FORMAT binary)', 'recv_' || typ, path);
			ok := true;
		EXCEPTION WHEN others THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
			rejected := rejected + 1;
			IF st NOT IN ('22P03', '22023', '08P01') THEN
				other := other + 1;
				IF length(sample) < 3000 THEN
					sample := sample || format(E'\n%s %s <%s>', st, left(msg, 200), b);
				END IF;
			END IF;
		END;
		CONTINUE WHEN NOT ok;
		accepted := accepted + 1;
		-- binary input keeps the value: what was accepted sends the same
		-- bytes (a listener_group the same ids, sorted: as many bytes, and
		-- exactly those when they came sorted), and round-trips as text
		IF typ = 'task_group' THEN
			ok := (SELECT task_group_send(g) = b AND g::text::task_group = g FROM public.recv_task_group);
			DELETE FROM public.recv_task_group;
		ELSE
			ok := (SELECT octet_length(listener_group_send(g)) = octet_length(b)
						  AND (listener_group_send(g) = b OR NOT public.ids_sorted(b))
						  AND g::text::listener_group = g
				   FROM public.recv_listener_group);
			DELETE FROM public.recv_listener_group;
		END IF;
		IF NOT ok THEN
			bad_round_trip := bad_round_trip + 1;
			IF length(sample) < 3000 THEN
				sample := sample || format(E'\nround trip <%s>', b);
			END IF;
		END IF;
	END LOOP;
END
$f$;
SQL

my $total_text = 0;
foreach my $db ('fuzz_utf8', 'fuzz_ascii')
{
	$node->safe_psql($db, $setup);

	foreach my $typ ('task_group', 'listener_group')
	{
		my ($acc, $rej, $p02, $p023, $other, $uni, $bad, $dist) = (0) x 8;
		my $sample = '';

		# One psql session per type and database, one statement per batch.
		my $sql = join('', map {
				"SELECT accepted, rejected, e22p02, e22023, other, unicode, bad_round_trip, distinct_accepted, "
				  . "replace(sample, E'\\n', ' // ') FROM fuzz_text('$typ', $text_batch, 0.$_);\n"
		} (1 .. $text_rounds{$db}));
		my $out = $node->safe_psql($db, $sql);
		foreach my $line (split /\n/, $out)
		{
			my @f = split /\|/, $line, 9;
			$acc += $f[0];
			$rej += $f[1];
			$p02 += $f[2];
			$p023 += $f[3];
			$other += $f[4];
			$uni += $f[5];
			$bad += $f[6];
			$dist = $f[7] if $f[7] > $dist;
			$sample .= $f[8] // '';
		}
		my $n = $text_rounds{$db} * $text_batch;
		$total_text += $n;
		note "$db $typ text: $n literals, $acc accepted ($dist distinct in one batch), "
		  . "$rej rejected ($p02 22P02, $p023 22023, $uni unicode escapes, $other other)";
		is($acc + $rej, $n, "$db $typ: every literal was tried");
		cmp_ok($acc, '>', $n / 100, "$db $typ: the fuzzer produced valid literals");
		cmp_ok($dist, '>', 25, "$db $typ: accepted literals are of many values");
		cmp_ok($p02, '>', $n / 10, "$db $typ: malformed literals rejected with 22P02");
		cmp_ok($p023, '>', 0, "$db $typ: bad entries rejected with 22023");
		is($other, 0, "$db $typ: no rejection with another SQLSTATE") or diag($sample);
		is($uni, 0, "$db $typ: UTF8 holds every \\u escape") if $db eq 'fuzz_utf8';
		is($bad, 0, "$db $typ: every accepted literal round-trips output to input") or diag($sample);

		my $path = "$tmp/recv_${db}_$typ.bin";
		my ($racc, $rrej, $rother, $rbad, $rsample) = split /\|/,
		  $node->safe_psql($db,
			"SELECT accepted, rejected, other, bad_round_trip, replace(sample, E'\\n', ' // ') "
			  . "FROM fuzz_recv('$typ', $recv_count{$db}, 0.5, '$path')"), 5;
		note "$db $typ recv: $recv_count{$db} values, $racc accepted, $rrej rejected";
		cmp_ok($racc, '>', 0, "$db $typ recv: some mutated binary values are valid");
		cmp_ok($rrej, '>', $recv_count{$db} / 2, "$db $typ recv: most mutated binary values are rejected");
		is($rother, 0, "$db $typ recv: rejections are 22P03, 22023 or 08P01") or diag($rsample);
		is($rbad, 0, "$db $typ recv: accepted binary keeps its value and round-trips") or diag($rsample);
	}
}
cmp_ok($total_text, '>=', 100000, 'at least 100000 mutated literals in all');

# A listener id's 255-byte limit counts the database encoding's bytes, in
# binary input too: in a LATIN1 database, an id of 200 "é" (200 bytes) goes
# out through send as 400 bytes of UTF8 to a UTF8 client, and comes back in.
$node->safe_psql('postgres',
	q{CREATE DATABASE fuzz_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0});
is( $node->safe_psql(
		'fuzz_latin1', qq{
CREATE EXTENSION role_cluster;
CREATE TABLE wide (v role_cluster.listener_group);
INSERT INTO wide VALUES (('EnableSome("' || repeat(chr(233), 200) || '")')::role_cluster.listener_group);
SET client_encoding = 'UTF8';
COPY wide TO '$tmp/latin1.bin' (FORMAT binary);
CREATE TABLE wide_back (LIKE wide);
COPY wide_back FROM '$tmp/latin1.bin' (FORMAT binary);
SELECT (SELECT count(*) FROM wide_back) || ' ' || octet_length((role_cluster.listener_group_ids(b.v))[1])
  FROM wide w JOIN wide_back b ON b.v OPERATOR(role_cluster.=) w.v;
}),
	'1 200',
	'LATIN1 database, UTF8 client: a 200-byte id sent as 400 bytes comes back through recv');

# The server survived: it answers, and no backend died on the way.
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'server still answers');
ok(!$node->log_contains(qr/terminated by signal|server process .* exited with exit code [1-9]|TRAP:/),
	'no backend crashed');

$node->stop;
done_testing();
