using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Tessera.Testing;
using Tessera.TestServices;
using Tessera.Tokens;

namespace Tessera.PostgreSql.Tests;

/// <summary>
/// Credential reads, and access-token reads, that arrive together share one statement: each read still gets its own session (or none), ends at
/// its own cancellation, and fails when the statement it rode on fails.
/// </summary>
public sealed class PostgreSqlCoalescedReadTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);

    [Fact]
    public async Task ConcurrentReadsShareStatementsAndEachGetsItsOwnSession()
    {
        await using var store = await database.CreateStoreAsync(_clock);
        var records = new List<SessionRecord>();
        for (var i = 0; i < 200; i++)
        {
            var record = StoreConfigurationHost.NewRecord(_clock);
            Assert.True(await store.CreateAsync(record));
            records.Add(record);
        }
        var expired = StoreConfigurationHost.NewRecord(_clock) with { IdleExpiresAt = _clock.GetUtcNow().AddSeconds(1) };
        Assert.True(await store.CreateAsync(expired));
        _clock.Advance(TimeSpan.FromSeconds(2));
        var before = store.CredentialReadStatements;

        // Every session read twice (the same credential twice in one statement), one unknown credential, one expired.
        var reads = records.Concat(records).Select(r => store.LoadByCredentialAsync(r.CredentialHash).AsTask()).ToList();
        var unknown = store.LoadByCredentialAsync(new byte[32]).AsTask();
        var gone = store.LoadByCredentialAsync(expired.CredentialHash).AsTask();
        await Task.WhenAll(reads.Append(unknown).Append(gone));

        for (var i = 0; i < reads.Count; i++)
        {
            Assert.Equal(records[i % records.Count].Id, (await reads[i])?.Id);
        }
        Assert.Null(await unknown);
        Assert.Null(await gone);
        var statements = store.CredentialReadStatements - before;
        Assert.InRange(statements, 1, reads.Count + 1);
        Assert.True(statements < reads.Count / 2, $"{reads.Count + 2} reads sent {statements} statements");
    }

    [Fact]
    public async Task ConcurrentAccessTokenReadsShareStatementsAndEachGetsItsOwnTokenAndSession()
    {
        await using var store = await database.CreateStoreAsync(_clock);
        var issued = DateTimeOffset.FromUnixTimeSeconds(_clock.GetUtcNow().ToUnixTimeSeconds());
        var tokens = new List<(TokenRecord Access, SessionRecord Session)>();
        for (var i = 0; i < 100; i++)
        {
            var record = StoreConfigurationHost.NewRecord(_clock);
            Assert.True(await store.CreateAsync(record));
            var access = new TokenRecord
            {
                Id = SessionRoute.NewTokenId(record.Id),
                SessionId = record.Id,
                Kind = TokenKind.Access,
                PairedTokenId = SessionRoute.NewTokenId(record.Id),
                CreatedAt = issued,
                ExpiresAt = issued.AddMinutes(5),
            };
            var refresh = access with { Id = access.PairedTokenId, Kind = TokenKind.Refresh, PairedTokenId = access.Id, ExpiresAt = issued.AddDays(1) };
            Assert.True(await store.CreateTokensAsync(access, refresh));
            tokens.Add((access, record));
        }
        var before = store.AccessTokenReadStatements;

        var reads = tokens.Concat(tokens).Select(t => store.LoadTokenAsync(t.Access.Id).AsTask()).ToList();
        var unknown = store.LoadTokenAsync(SessionRoute.NewTokenId(tokens[0].Session.Id)).AsTask();
        await Task.WhenAll(reads.Append(unknown));

        for (var i = 0; i < reads.Count; i++)
        {
            var (access, session) = tokens[i % tokens.Count];
            var lookup = await reads[i];
            Assert.Equal(access.Id, lookup?.Token.Id);
            Assert.Equal(access.PairedTokenId, lookup?.Token.PairedTokenId);
            Assert.Equal(TokenKind.Access, lookup?.Token.Kind);
            Assert.Equal(session.Id, lookup?.Session?.Id);
        }
        Assert.Null(await unknown);
        var statements = store.AccessTokenReadStatements - before;
        Assert.InRange(statements, 1, reads.Count + 1);
        Assert.True(statements < reads.Count / 2, $"{reads.Count + 1} token reads sent {statements} statements");
    }

    [Fact]
    public async Task ACancelledReadEndsAtOnceWhileTheStatementItJoinedGoesOnForTheOthers()
    {
        var schema = database.NewSchema();
        await using var store = await database.CreateStoreAsync(_clock, o => o.Schema = schema);
        var record = StoreConfigurationHost.NewRecord(_clock);
        Assert.True(await store.CreateAsync(record));
        await using var locker = await database.DataSource.OpenConnectionAsync(TestContext.Current.CancellationToken);
        await using var transaction = await locker.BeginTransactionAsync(TestContext.Current.CancellationToken);
        await using (var lockTable = new NpgsqlCommand($"""LOCK TABLE "{schema}"."sessionStore" IN ACCESS EXCLUSIVE MODE""", locker, transaction))
        {
            await lockTable.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        using var cancellation = new CancellationTokenSource();
        var cancelled = store.LoadByCredentialAsync(record.CredentialHash, cancellation.Token).AsTask();
        var waiting = store.LoadByCredentialAsync(record.CredentialHash, TestContext.Current.CancellationToken).AsTask();
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.False(waiting.IsCompleted, "the other read waits for the locked table");
        await transaction.CommitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(record.Id, (await waiting)?.Id);
    }

    [Fact]
    public async Task EveryReadOfAFailedStatementFails()
    {
        var schema = database.NewSchema();
        await using var store = await database.CreateStoreAsync(_clock, o => o.Schema = schema);
        var first = StoreConfigurationHost.NewRecord(_clock);
        var second = StoreConfigurationHost.NewRecord(_clock);
        Assert.True(await store.CreateAsync(first));
        Assert.True(await store.CreateAsync(second));
        await database.ExecuteAsync($"""DROP SCHEMA "{schema}" CASCADE""");

        var reads = new[] { store.LoadByCredentialAsync(first.CredentialHash).AsTask(), store.LoadByCredentialAsync(second.CredentialHash).AsTask() };

        foreach (var read in reads)
        {
            var failure = await Assert.ThrowsAsync<PostgresException>(() => read);
            Assert.Equal(PostgresErrorCodes.UndefinedTable, failure.SqlState);
        }
    }
}
