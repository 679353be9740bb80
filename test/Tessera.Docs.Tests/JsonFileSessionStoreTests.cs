using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Testing;

namespace Tessera.Docs.Tests;

/// <summary>What the example store promises beyond the suites: restarts, stale pointers, hostile ids, registration.</summary>
public sealed class JsonFileSessionStoreTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tessera-docs-tests", Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task SessionsAndTokensSurviveANewStoreOverTheSameDirectory()
    {
        var record = NewRecord("alice");
        var first = new JsonFileSessionStore(_directory, _clock);
        Assert.True(await first.CreateAsync(record));
        var (access, refresh) = NewPair(record.Id);
        Assert.True(await first.CreateTokensAsync(access, refresh));

        var second = new JsonFileSessionStore(_directory, _clock); // as after a restart of the app

        Assert.Equal(record.Id, (await second.LoadByCredentialAsync(record.CredentialHash))?.Id);
        Assert.Equal("cart", Assert.Single((await second.LoadAsync(record.Id))!.Data).Key);
        Assert.Equal(refresh, (await second.LoadTokenAsync(refresh.Id))?.Token);
        Assert.Equal(record.Id, Assert.Single(await second.ListBySubjectAsync("alice")).Id);
    }

    [Fact]
    public async Task APointerTheSessionDoesNotAgreeWithFindsNothingAndTakesNothing()
    {
        var store = new JsonFileSessionStore(_directory, _clock);
        var record = NewRecord(null);
        Assert.True(await store.CreateAsync(record));
        // What a crash between two writes could leave: a credential pointer naming a session that holds another hash.
        var stray = NewRecord(null);
        File.WriteAllText(Path.Combine(_directory, "credentials", Convert.ToHexStringLower(stray.CredentialHash)), record.Id);

        Assert.Null(await store.LoadByCredentialAsync(stray.CredentialHash));
        Assert.True(await store.CreateAsync(stray));
        Assert.Equal(stray.Id, (await store.LoadByCredentialAsync(stray.CredentialHash))?.Id);
        Assert.Equal(record.Id, (await store.LoadByCredentialAsync(record.CredentialHash))?.Id);
    }

    [Theory]
    [InlineData("../../outside")]
    [InlineData("/etc/passwd")]
    [InlineData("..")]
    [InlineData("sessions/../../x")]
    [InlineData("a\0b")]
    public async Task AnIdShapedLikeAPathStaysAFileNameInsideTheStore(string id)
    {
        var store = new JsonFileSessionStore(_directory, _clock);

        Assert.Null(await store.LoadAsync(id));
        Assert.False(await store.DeleteAsync(id));
        Assert.Null(await store.LoadTokenAsync(id));
        Assert.True(await store.CreateAsync(NewRecord(null) with { Id = id }));
        Assert.Equal(id, (await store.LoadAsync(id))?.Id);

        var file = Assert.Single(Directory.GetFiles(_directory, "*", SearchOption.AllDirectories), path => path.EndsWith(".json", StringComparison.Ordinal));
        Assert.Equal(Path.Combine(_directory, "sessions"), Path.GetDirectoryName(file));
        Assert.Matches("^[0-9a-f]{64}\\.json$", Path.GetFileName(file));
        Assert.Equal(["credentials", "sessions", "tokens"], Directory.GetFileSystemEntries(_directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task UseJsonFileStoreRegistersTheStoreOnTheContainersClock()
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_clock);
        services.AddTesseraCore().UseJsonFileStore(_directory);
        await using var provider = services.BuildServiceProvider();

        var store = Assert.IsType<JsonFileSessionStore>(provider.GetRequiredService<ISessionStore>());
        var record = NewRecord(null);
        Assert.True(await store.CreateAsync(record));
        Assert.NotNull(await store.LoadAsync(record.Id));
        _clock.Advance(TimeSpan.FromMinutes(31)); // past the record's 30-minute idle deadline, on the container's clock

        Assert.Null(await store.LoadAsync(record.Id));
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private SessionRecord NewRecord(string? subject)
    {
        var now = _clock.GetUtcNow();
        return new SessionRecord
        {
            Id = Guid.NewGuid().ToString("N"),
            CredentialHash = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32),
            Subject = subject,
            Data = new Dictionary<string, string>(StringComparer.Ordinal) { ["cart"] = "[\"apple\"]" },
            CreatedAt = now,
            LastSeenAt = now,
            IdleExpiresAt = now.AddMinutes(30),
            AbsoluteExpiresAt = now.AddHours(8),
        };
    }

    private (Tokens.TokenRecord Access, Tokens.TokenRecord Refresh) NewPair(string sessionId)
    {
        var now = _clock.GetUtcNow();
        var accessId = Guid.NewGuid().ToString();
        var refreshId = Guid.NewGuid().ToString();
        return (
            new Tokens.TokenRecord { Id = accessId, SessionId = sessionId, Kind = Tokens.TokenKind.Access, PairedTokenId = refreshId, CreatedAt = now, ExpiresAt = now.AddMinutes(5) },
            new Tokens.TokenRecord { Id = refreshId, SessionId = sessionId, Kind = Tokens.TokenKind.Refresh, PairedTokenId = accessId, CreatedAt = now, ExpiresAt = now.AddMinutes(30) });
    }
}
