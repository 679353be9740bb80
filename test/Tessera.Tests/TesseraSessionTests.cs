using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera.Testing;

namespace Tessera.Tests;

public sealed class TesseraSessionTests
{
    private static readonly SessionKey<List<string>> Cart = new("cart");

    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly InMemorySessionStore _memory;
    private readonly CountingSessionStore _store;
    private readonly TestLogger<SessionManager> _logger = new();
    private readonly TesseraOptions _options = new();
    private SessionManager? _manager;

    public TesseraSessionTests()
    {
        _memory = new InMemorySessionStore(_clock);
        _store = new CountingSessionStore(_memory);
        _options.Keys.Add(SigningKeyRing.GenerateBase64Key());
    }

    private SessionManager Manager => _manager ??= new SessionManager(_store, Options.Create(_options), _clock, _logger);

    private async Task<TesseraSession> OpenAsync(string? credential, SessionMetadata? metadata = null)
    {
        var session = Manager.Open(credential, metadata);
        await session.LoadAsync();
        return session;
    }

    private async Task<(TesseraSession Session, SessionCommitResult Result)> RequestAsync(string? credential, Action<TesseraSession> work)
    {
        var session = await OpenAsync(credential);
        work(session);
        return (session, await session.CommitAsync());
    }

    private async Task<string> CreateSessionAsync(Action<TesseraSession> work)
    {
        var (_, result) = await RequestAsync(null, work);
        Assert.Equal(CredentialChange.Issue, result.Change);
        Assert.NotNull(result.Credential);
        return result.Credential;
    }

    // -------------------------------------------------------------------------------------------------------------
    // Creating and reading
    // -------------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task ASessionThatIsNeverWrittenCreatesNothing()
    {
        var session = await OpenAsync(null);
        Assert.True(session.IsNew);
        Assert.Null(session.Get<string>("anything"));
        Assert.False(session.ContainsKey("anything"));
        Assert.Empty(session.Keys);

        var result = await session.CommitAsync();

        Assert.Equal(SessionCommitResult.Unchanged, result);
        Assert.Equal(0, _store.Calls);
        Assert.Equal(0, _memory.RecordCount);
    }

    [Fact]
    public async Task ASessionThatIsNeverOpenedMakesNoStoreCall()
    {
        var issued = Manager.Credentials.Issue(SessionRoute.Of("never-stored"));
        var session = Manager.Open(issued.Value);

        var result = await session.CommitAsync();

        Assert.Equal(SessionCommitResult.Unchanged, result);
        Assert.False(session.IsLoaded);
        Assert.Equal(0, _store.Calls);
    }

    [Fact]
    public async Task SettingAValueCreatesTheSessionAndIssuesACredential()
    {
        var session = await OpenAsync(null, new SessionMetadata("UnitTest/1.0", "198.51.100.7", "desk"));
        session.Set(Cart, ["apple"]);
        var idBeforeCommit = session.Id;

        var result = await session.CommitAsync();

        Assert.Equal(CredentialChange.Issue, result.Change);
        Assert.Equal(CookieCredential.EncodedLength, result.Credential!.Length);
        Assert.Equal(idBeforeCommit, result.SessionId);
        Assert.Equal(_clock.GetUtcNow() + TimeSpan.FromHours(8), result.AbsoluteExpiresAt);
        Assert.Equal(1, _store.Count(nameof(ISessionStore.CreateAsync)));
        Assert.Equal(1, _store.Writes);
        var stored = await _memory.LoadAsync(idBeforeCommit);
        Assert.NotNull(stored);
        Assert.Equal("[\"apple\"]", stored.Data["cart"]);
        Assert.Null(stored.Subject);
        Assert.Equal(new SessionMetadata("UnitTest/1.0", "198.51.100.7", "desk"), stored.Metadata);
        Assert.Equal(_clock.GetUtcNow() + TesseraDefaults.AnonymousIdleTimeout, stored.IdleExpiresAt);
        Assert.DoesNotContain(result.Credential, result.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadingByTheIssuedCredentialSeesTheData()
    {
        var credential = await CreateSessionAsync(s =>
        {
            s.Set(Cart, ["apple", "pear"]);
            s.Set("count", 3);
        });

        var session = await OpenAsync(credential);

        Assert.False(session.IsNew);
        Assert.Equal(["apple", "pear"], session.Get(Cart));
        Assert.Equal(3, session.Get<int>("count"));
        Assert.True(session.TryGet<int>("count", out var count));
        Assert.Equal(3, count);
        Assert.Equal(["cart", "count"], session.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(_clock.GetUtcNow(), session.CreatedAt);
    }

    [Fact]
    public async Task ARequestReadsItsOwnWritesBeforeCommitting()
    {
        var session = await OpenAsync(null);

        session.Set("n", 1);
        Assert.Equal(1, session.Get<int>("n"));
        session.Set("n", 2);
        Assert.Equal(2, session.Get<int>("n"));
        session.Remove("n");

        Assert.False(session.ContainsKey("n"));
        Assert.Equal(SessionCommitResult.Unchanged, await session.CommitAsync());
        Assert.Equal(0, _store.Calls);
    }

    [Fact]
    public async Task AReadOnlyRequestWithinTheTouchIntervalMakesNoWrite()
    {
        var credential = await CreateSessionAsync(s => s.Set("a", 1));
        _store.Reset();
        _clock.Advance(TimeSpan.FromSeconds(59));

        var (_, result) = await RequestAsync(credential, s => Assert.Equal(1, s.Get<int>("a")));

        Assert.Equal(SessionCommitResult.Unchanged, result);
        Assert.Equal(0, _store.Writes);
        Assert.Equal(1, _store.Count(nameof(ISessionStore.LoadByCredentialAsync)));
    }

    [Fact]
    public async Task AReadOnlyRequestAfterTheTouchIntervalMakesExactlyOneTouch()
    {
        var credential = await CreateSessionAsync(s => s.Set("a", 1));
        var created = await OpenAsync(credential);
        _store.Reset();
        _clock.Advance(TimeSpan.FromMinutes(1));

        var (_, result) = await RequestAsync(credential, s => Assert.Equal(1, s.Get<int>("a")));

        Assert.Equal(SessionCommitResult.Unchanged, result);
        Assert.Equal(1, _store.Writes);
        Assert.Equal(1, _store.Count(nameof(ISessionStore.TouchAsync)));
        var stored = await _memory.LoadAsync(created.Id);
        Assert.Equal(_clock.GetUtcNow(), stored!.LastSeenAt);
        Assert.Equal(_clock.GetUtcNow() + TesseraDefaults.AnonymousIdleTimeout, stored.IdleExpiresAt);
    }

    [Fact]
    public async Task AWriteWithinTheTouchIntervalKeepsTheDeadlinesAndAWriteAfterItMovesThem()
    {
        var credential = await CreateSessionAsync(s => s.Set("a", 1));
        var id = (await OpenAsync(credential)).Id;
        var created = await _memory.LoadAsync(id);
        _clock.Advance(TimeSpan.FromSeconds(59));

        await RequestAsync(credential, s => s.Set("a", 2));

        var afterWrite = Assert.IsType<SessionRecord>(await _memory.LoadAsync(id));
        Assert.Equal(2, StoredInt(afterWrite, "a"));
        Assert.Equal(created!.LastSeenAt, afterWrite.LastSeenAt);
        Assert.Equal(created.IdleExpiresAt, afterWrite.IdleExpiresAt);

        _clock.Advance(TimeSpan.FromSeconds(1));
        await RequestAsync(credential, s => s.Set("a", 3));

        var afterInterval = Assert.IsType<SessionRecord>(await _memory.LoadAsync(id));
        Assert.Equal(3, StoredInt(afterInterval, "a"));
        Assert.Equal(_clock.GetUtcNow(), afterInterval.LastSeenAt);
        Assert.Equal(_clock.GetUtcNow() + TesseraDefaults.AnonymousIdleTimeout, afterInterval.IdleExpiresAt);
    }

    [Fact]
    public async Task SigningInWithinTheTouchIntervalMovesTheIdleDeadlineAtOnce()
    {
        var credential = await CreateSessionAsync(s => s.Set("a", 1));
        _clock.Advance(TimeSpan.FromSeconds(10));

        var (session, result) = await RequestAsync(credential, s => s.SignIn("alice"));

        var stored = await _memory.LoadAsync(session.Id);
        Assert.Equal(CredentialChange.Issue, result.Change);
        Assert.Equal(_clock.GetUtcNow(), stored!.LastSeenAt);
        Assert.Equal(_clock.GetUtcNow() + _options.IdleTimeout, stored.IdleExpiresAt);
    }

    private static int StoredInt(SessionRecord record, string key) =>
        System.Text.Json.JsonSerializer.Deserialize<int>(record.Data[key]);

    [Fact]
    public async Task RemovingAMissingKeyWritesNothing()
    {
        var credential = await CreateSessionAsync(s => s.Set("a", 1));
        _store.Reset();

        var (session, result) = await RequestAsync(credential, s => s.Remove("not-there"));

        Assert.False(session.HasChanges);
        Assert.Equal(SessionCommitResult.Unchanged, result);
        Assert.Equal(0, _store.Writes);
    }

    [Fact]
    public async Task CommittingTwiceReturnsTheFirstResultAndWritesOnce()
    {
        var session = await OpenAsync(null);
        session.Set("a", 1);

        var first = await session.CommitAsync();
        var second = await session.CommitAsync();

        Assert.Equal(first, second);
        Assert.Equal(1, _store.Writes);
        Assert.True(session.IsCommitted);
    }

    [Fact]
    public async Task ChangingAValueOfAStoredSessionIsOnePatch()
    {
        var credential = await CreateSessionAsync(s =>
        {
            s.Set("a", 1);
            s.Set("b", 2);
        });
        _store.Reset();

        var (_, result) = await RequestAsync(credential, s => s.Set("a", 10));

        Assert.Equal(SessionCommitResult.Unchanged, result);
        Assert.Equal(1, _store.Count(nameof(ISessionStore.ApplyAsync)));
        Assert.Equal(1, _store.Writes);
        var after = await OpenAsync(credential);
        Assert.Equal(10, after.Get<int>("a"));
        Assert.Equal(2, after.Get<int>("b"));
    }

    [Fact]
    public async Task ClearingThenSettingLeavesOnlyTheNewKeys()
    {
        var credential = await CreateSessionAsync(s =>
        {
            s.Set("a", 1);
            s.Set("b", 2);
            s.SetFlash("notice", "hi");
        });

        await RequestAsync(credential, s =>
        {
            s.Clear();
            Assert.Empty(s.Keys);
            Assert.Null(s.PeekFlash<string>("notice"));
            s.Set("c", 3);
        });

        var after = await OpenAsync(credential);
        Assert.Equal(["c"], after.Keys);
        Assert.Null(after.PeekFlash<string>("notice"));
        Assert.Equal(["c"], (await _memory.LoadAsync(after.Id))!.Data.Keys);
    }

    [Fact]
    public async Task TypedKeysRoundTripTheirType()
    {
        var items = new SessionKey<List<CartItem>>("items");
        var credential = await CreateSessionAsync(s => s.Set(items, [new CartItem("A-1", 2), new CartItem("B-2", 1)]));

        var session = await OpenAsync(credential);

        Assert.Equal([new CartItem("A-1", 2), new CartItem("B-2", 1)], session.Get(items));
        Assert.Equal("[{\"sku\":\"A-1\",\"quantity\":2},{\"sku\":\"B-2\",\"quantity\":1}]", (await _memory.LoadAsync(session.Id))!.Data["items"]);
        Assert.Equal("items", items.ToString());
        session.Remove(items);
        await session.CommitAsync();
        Assert.Null((await OpenAsync(credential)).Get(items));
    }

    [Fact]
    public async Task AValueThatNoLongerDeserializesReadsAsDefaultAndLogsTheKeyButNotTheValue()
    {
        var credential = await CreateSessionAsync(s =>
        {
            s.Set("age", "secret-value-4711");
            s.Set("name", "bob");
        });

        var session = await OpenAsync(credential);

        Assert.Equal(0, session.Get<int>("age"));
        var warning = Assert.Single(_logger.Entries, e => e.EventId.Id == 1002);
        Assert.False(session.TryGet<int>("age", out _));
        Assert.Equal("bob", session.Get<string>("name"));
        Assert.Equal("secret-value-4711", session.Get<string>("age"));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("'age'", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-value-4711", warning.FullText, StringComparison.Ordinal);
        Assert.DoesNotContain(session.Id, warning.FullText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStoredValueThatIsNotJsonAtAllReadsAsDefault()
    {
        var issued = Manager.Credentials.Issue(SessionRoute.Of("hand-made"));
        var now = _clock.GetUtcNow();
        Assert.True(await _memory.CreateAsync(new SessionRecord
        {
            Id = "hand-made",
            CredentialHash = issued.Hash,
            Data = new Dictionary<string, string> { ["broken"] = "{secret-token: not json", ["ok"] = "\"fine\"" },
            CreatedAt = now,
            LastSeenAt = now,
            IdleExpiresAt = now.AddMinutes(30),
            AbsoluteExpiresAt = now.AddHours(8),
        }));

        var session = await OpenAsync(issued.Value);

        Assert.Null(session.Get<Dictionary<string, string>>("broken"));
        Assert.Equal("fine", session.Get<string>("ok"));
        var warning = Assert.Single(_logger.Entries, e => e.EventId.Id == 1002);
        Assert.Contains("'broken'", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-token", warning.FullText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SessionMetadataIsRecordedOnlyAtCreation()
    {
        var credential = await CreateSessionAsync(s => s.Set("a", 1));

        var session = await OpenAsync(credential, new SessionMetadata("Other/2.0"));
        session.Set("b", 2);
        await session.CommitAsync();

        Assert.Equal(SessionMetadata.Empty, (await _memory.LoadAsync(session.Id))!.Metadata);
    }

    // -------------------------------------------------------------------------------------------------------------
    // Flash
    // -------------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task AFlashIsReadableOnceOnTheNextRequest()
    {
        var credential = await CreateSessionAsync(s =>
        {
            s.SetFlash("notice", "saved");
            Assert.Null(s.GetFlash<string>("notice"));
            Assert.Empty(s.Keys);
        });

        var (_, second) = await RequestAsync(credential, s =>
        {
            Assert.Equal("saved", s.GetFlash<string>("notice"));
            Assert.Null(s.GetFlash<string>("notice"));
        });
        Assert.Equal(SessionCommitResult.Unchanged, second);

        var (_, third) = await RequestAsync(credential, s => Assert.Null(s.GetFlash<string>("notice")));
        Assert.Equal(SessionCommitResult.Unchanged, third);
    }

    [Fact]
    public async Task PeekingAtAFlashDoesNotConsumeIt()
    {
        var credential = await CreateSessionAsync(s =>
        {
            s.SetFlash("notice", "saved");
            Assert.Equal("saved", s.PeekFlash<string>("notice"));
        });
        _store.Reset();

        var (_, peeked) = await RequestAsync(credential, s =>
        {
            Assert.Equal("saved", s.PeekFlash<string>("notice"));
            Assert.Equal("saved", s.PeekFlash<string>("notice"));
        });
        Assert.Equal(SessionCommitResult.Unchanged, peeked);
        Assert.Equal(0, _store.Writes);

        await RequestAsync(credential, s => Assert.Equal("saved", s.GetFlash<string>("notice")));
        await RequestAsync(credential, s => Assert.Null(s.PeekFlash<string>("notice")));
    }

    [Fact]
    public async Task AFlashSetAgainWhileBeingReadWaitsForTheNextRequest()
    {
        var credential = await CreateSessionAsync(s => s.SetFlash("notice", "first"));

        await RequestAsync(credential, s =>
        {
            Assert.Equal("first", s.GetFlash<string>("notice"));
            s.SetFlash("notice", "second");
            Assert.Null(s.GetFlash<string>("notice")); // "first" was read already; "second" is for the next request
        });

        await RequestAsync(credential, s => Assert.Equal("second", s.GetFlash<string>("notice")));
        await RequestAsync(credential, s => Assert.Null(s.GetFlash<string>("notice")));
    }

    [Fact]
    public async Task AFlashReadAfterBeingSetAgainIsStillReadOnlyOnce()
    {
        var credential = await CreateSessionAsync(s => s.SetFlash("notice", "first"));

        await RequestAsync(credential, s =>
        {
            s.SetFlash("notice", "second");
            Assert.Equal("first", s.GetFlash<string>("notice"));
            Assert.Null(s.GetFlash<string>("notice"));
        });

        await RequestAsync(credential, s => Assert.Equal("second", s.GetFlash<string>("notice")));
    }

    // -------------------------------------------------------------------------------------------------------------
    // Regenerate, sign in, destroy
    // -------------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task RegeneratingIssuesANewCredentialAndRetiresTheOld()
    {
        var credential = await CreateSessionAsync(s => s.Set(Cart, ["apple"]));
        var id = (await OpenAsync(credential)).Id;

        var (_, result) = await RequestAsync(credential, s => s.Regenerate());

        Assert.Equal(CredentialChange.Issue, result.Change);
        Assert.NotEqual(credential, result.Credential);
        Assert.Equal(id, result.SessionId);
        var old = await OpenAsync(credential);
        Assert.True(old.IsNew);
        Assert.Null(old.Get(Cart));
        var renewed = await OpenAsync(result.Credential);
        Assert.Equal(id, renewed.Id);
        Assert.Equal(["apple"], renewed.Get(Cart));
    }

    [Fact]
    public async Task SigningInRegeneratesAndKeepsAnonymousData()
    {
        var credential = await CreateSessionAsync(s => s.Set(Cart, ["apple"]));
        var id = (await OpenAsync(credential)).Id;

        var (signingIn, result) = await RequestAsync(credential, s => s.SignIn("alice"));

        Assert.True(signingIn.IsAuthenticated);
        Assert.Equal(CredentialChange.Issue, result.Change);
        Assert.NotEqual(credential, result.Credential);
        Assert.True((await OpenAsync(credential)).IsNew);
        var signedIn = await OpenAsync(result.Credential);
        Assert.Equal("alice", signedIn.Subject);
        Assert.Equal(id, signedIn.Id);
        Assert.Equal(["apple"], signedIn.Get(Cart));
        Assert.Equal([id], (await _memory.ListBySubjectAsync("alice")).Select(r => r.Id));
    }

    [Fact]
    public async Task SigningInOnANewSessionCreatesItSignedIn()
    {
        var (_, result) = await RequestAsync(null, s => s.SignIn("alice"));

        Assert.Equal(CredentialChange.Issue, result.Change);
        Assert.Equal("alice", (await OpenAsync(result.Credential)).Subject);
    }

    [Fact]
    public async Task SigningInAsAnotherSubjectClearsTheData()
    {
        var credential = await CreateSessionAsync(s =>
        {
            s.SignIn("alice");
            s.Set("alice-secret", "x");
        });

        var (_, result) = await RequestAsync(credential, s => s.SignIn("bob"));

        var bob = await OpenAsync(result.Credential);
        Assert.Equal("bob", bob.Subject);
        Assert.Empty(bob.Keys);
        Assert.Null(bob.Get<string>("alice-secret"));
    }

    [Fact]
    public async Task SigningInAgainAsTheSameSubjectKeepsTheData()
    {
        var credential = await CreateSessionAsync(s =>
        {
            s.SignIn("alice");
            s.Set("prefs", "dark");
        });

        var (_, result) = await RequestAsync(credential, s => s.SignIn("alice"));

        Assert.NotEqual(credential, result.Credential);
        Assert.Equal("dark", (await OpenAsync(result.Credential)).Get<string>("prefs"));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    public async Task SigningInWithABlankSubjectThrows(string subject)
    {
        var session = await OpenAsync(null);

        Assert.ThrowsAny<ArgumentException>(() => session.SignIn(subject));
        Assert.Throws<ArgumentException>(() => session.SignIn(new string('s', 257)));
    }

    [Fact]
    public async Task DestroyingRevokesTheSessionAndClearsTheCredential()
    {
        var credential = await CreateSessionAsync(s => s.Set(Cart, ["apple"]));
        var id = (await OpenAsync(credential)).Id;
        _store.Reset();

        var (session, result) = await RequestAsync(credential, s => s.Destroy());

        Assert.Equal(CredentialChange.Clear, result.Change);
        Assert.Null(result.Credential);
        Assert.True(session.IsNew);
        Assert.Equal(1, _store.Count(nameof(ISessionStore.RevokeAsync)));
        Assert.Null(await _memory.LoadAsync(id));
        Assert.Equal(1, _memory.RecordCount); // revoked, kept until cleanup
        Assert.True((await OpenAsync(credential)).IsNew);
    }

    [Fact]
    public async Task SigningOutDestroysTheSession()
    {
        var credential = await CreateSessionAsync(s => s.SignIn("alice"));

        var (_, result) = await RequestAsync(credential, s => s.SignOut());

        Assert.Equal(CredentialChange.Clear, result.Change);
        Assert.True((await OpenAsync(credential)).IsNew);
        Assert.Empty(await _memory.ListBySubjectAsync("alice"));
    }

    [Fact]
    public async Task WritingAfterDestroyStartsANewSessionWithAnotherId()
    {
        var credential = await CreateSessionAsync(s => s.Set("old", 1));
        var oldId = (await OpenAsync(credential)).Id;

        var (session, result) = await RequestAsync(credential, s =>
        {
            s.Destroy();
            Assert.Null(s.Get<int?>("old"));
            s.Set("new", 2);
        });

        Assert.Equal(CredentialChange.Issue, result.Change);
        Assert.NotEqual(oldId, result.SessionId);
        Assert.Equal(session.Id, result.SessionId);
        Assert.Null(await _memory.LoadAsync(oldId));
        var fresh = await OpenAsync(result.Credential);
        Assert.Equal(["new"], fresh.Keys);
        Assert.True((await OpenAsync(credential)).IsNew);
    }

    [Fact]
    public async Task DestroyingANewSessionWritesNothing()
    {
        var (_, result) = await RequestAsync(null, s =>
        {
            s.Set("a", 1);
            s.Destroy();
        });

        Assert.Equal(SessionCommitResult.Unchanged, result);
        Assert.Equal(0, _store.Calls);
    }

    [Fact]
    public async Task ASessionRevokedDuringARequestIsNotBroughtBackByItsCommit()
    {
        var credential = await CreateSessionAsync(s => s.Set("a", 1));
        var session = await OpenAsync(credential);
        Assert.True(await Manager.RevokeAsync(session.Id));

        session.Set("b", 2);
        var result = await session.CommitAsync();

        Assert.Equal(CredentialChange.Clear, result.Change);
        Assert.Null(await _memory.LoadAsync(session.Id));
        Assert.True((await OpenAsync(credential)).IsNew);
    }

    // -------------------------------------------------------------------------------------------------------------
    // Guards
    // -------------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task ReservedKeysAreRefused()
    {
        var session = await OpenAsync(null);

        Assert.Throws<ArgumentException>(() => session.Set("tessera:x", 1));
        Assert.Throws<ArgumentException>(() => session.Get<int>("tessera:flash:notice"));
        Assert.Throws<ArgumentException>(() => session.ContainsKey("tessera:"));
        Assert.Throws<ArgumentException>(() => session.Remove("tessera:x"));
        Assert.Throws<ArgumentException>(() => session.SetFlash("tessera:x", 1));
        Assert.Throws<ArgumentException>(() => new SessionKey<int>("tessera:x"));
        Assert.Throws<ArgumentException>(() => session.Set("", 1));
        Assert.Throws<ArgumentException>(() => session.Set(new string('k', 257), 1));
        session.Set(new string('k', 256), 1);
        session.Set("Tessera:x", 1); // the prefix is case-sensitive
        Assert.Equal(1, session.Get<int>("Tessera:x"));
    }

    [Fact]
    public async Task WritingAfterCommitThrowsButReadingStillWorks()
    {
        var session = await OpenAsync(null);
        session.Set("a", 1);
        await session.CommitAsync();

        Assert.Throws<InvalidOperationException>(() => session.Set("b", 2));
        Assert.Throws<InvalidOperationException>(() => session.Set(Cart, []));
        Assert.Throws<InvalidOperationException>(() => session.Remove("a"));
        Assert.Throws<InvalidOperationException>(() => session.Clear());
        Assert.Throws<InvalidOperationException>(() => session.SetFlash("f", 1));
        Assert.Throws<InvalidOperationException>(() => session.Regenerate());
        Assert.Throws<InvalidOperationException>(() => session.SignIn("alice"));
        Assert.Throws<InvalidOperationException>(() => session.Destroy());
        Assert.Equal(1, session.Get<int>("a"));
        Assert.Equal(1, _store.Writes);
    }

    [Fact]
    public async Task ATamperedCredentialReadsAsANewSessionWithoutAStoreCall()
    {
        var credential = await CreateSessionAsync(s => s.Set("a", 1));
        var tampered = (credential[0] == 'A' ? "B" : "A") + credential[1..];
        _store.Reset();

        var session = await OpenAsync(tampered);

        Assert.True(session.IsNew);
        Assert.Equal(0, session.Get<int>("a"));
        Assert.Equal(SessionCommitResult.Unchanged, await session.CommitAsync());
        Assert.Equal(0, _store.Calls);
        var warning = Assert.Single(_logger.Entries, e => e.EventId.Id == 1001);
        Assert.DoesNotContain(tampered, warning.FullText, StringComparison.Ordinal);
        Assert.DoesNotContain(tampered[..20], warning.FullText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACredentialForAMissingSessionReadsAsNewAndWritesNothing()
    {
        var unknown = Manager.Credentials.Issue(SessionRoute.Of("never-stored")).Value;

        var (session, result) = await RequestAsync(unknown, s => Assert.Null(s.Get<string>("a")));

        Assert.True(session.IsNew);
        Assert.Equal(CredentialChange.None, result.Change);
        Assert.Equal(1, _store.Reads);
        Assert.Equal(0, _store.Writes);
    }

    // -------------------------------------------------------------------------------------------------------------
    // Expiry
    // -------------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task ASessionEndsAfterTheIdleTimeoutAndUseKeepsItAlive()
    {
        // The sliding deadline works alike for both kinds of session; this one is anonymous, so it gets the same timeout.
        _options.AnonymousIdleTimeout = _options.IdleTimeout;
        var credential = await CreateSessionAsync(s => s.Set("a", 1));

        _clock.Advance(TimeSpan.FromMinutes(29));
        await RequestAsync(credential, s => Assert.Equal(1, s.Get<int>("a"))); // extends the idle deadline
        _clock.Advance(TimeSpan.FromMinutes(29));
        Assert.False((await OpenAsync(credential)).IsNew);

        _clock.Advance(TimeSpan.FromMinutes(1));
        var expired = await OpenAsync(credential);
        Assert.True(expired.IsNew);
        Assert.Equal(0, expired.Get<int>("a"));
    }

    [Fact]
    public async Task ASessionEndsAtItsAbsoluteLifetimeHoweverActiveItIs()
    {
        _options.IdleTimeout = TimeSpan.FromMinutes(30);
        _options.AnonymousIdleTimeout = _options.IdleTimeout;
        _options.AbsoluteLifetime = TimeSpan.FromHours(1);
        var start = _clock.GetUtcNow();
        var credential = await CreateSessionAsync(s => s.Set("a", 1));
        var id = (await OpenAsync(credential)).Id;

        for (var i = 0; i < 2; i++)
        {
            _clock.Advance(TimeSpan.FromMinutes(20));
            await RequestAsync(credential, s => Assert.Equal(1, s.Get<int>("a")));
        }
        Assert.Equal(start.AddHours(1), (await _memory.LoadAsync(id))!.IdleExpiresAt); // min(now + 30 min, absolute)
        _clock.Advance(TimeSpan.FromMinutes(19));
        await RequestAsync(credential, s => Assert.Equal(1, s.Get<int>("a")));

        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.True((await OpenAsync(credential)).IsNew);
    }

    [Fact]
    public async Task WritingToAnExpiredSessionStartsANewOne()
    {
        var credential = await CreateSessionAsync(s => s.Set("a", 1));
        var oldId = (await OpenAsync(credential)).Id;
        _clock.Advance(TimeSpan.FromHours(1));

        var (_, result) = await RequestAsync(credential, s => s.Set("b", 2));

        Assert.Equal(CredentialChange.Issue, result.Change);
        Assert.NotEqual(oldId, result.SessionId);
        Assert.Equal(["b"], (await OpenAsync(result.Credential)).Keys);
    }

    // -------------------------------------------------------------------------------------------------------------
    // Concurrency
    // -------------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task ConcurrentRequestsChangingDifferentKeysBothSurvive()
    {
        var credential = await CreateSessionAsync(s =>
        {
            s.Set("a", 0);
            s.Set("keep", "k");
        });
        var first = await OpenAsync(credential);
        var second = await OpenAsync(credential);

        first.Set("a", 1);
        second.Set("b", 2);
        second.Remove("keep");
        await Task.WhenAll(first.CommitAsync().AsTask(), second.CommitAsync().AsTask());

        var after = await OpenAsync(credential);
        Assert.Equal(1, after.Get<int>("a"));
        Assert.Equal(2, after.Get<int>("b"));
        Assert.False(after.ContainsKey("keep"));
    }

    [Fact]
    public async Task ManyConcurrentRequestsOnOneSessionEachKeepTheirKey()
    {
        var credential = await CreateSessionAsync(s => s.Set("start", true));

        await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(async () =>
        {
            var session = Manager.Open(credential);
            await session.LoadAsync();
            session.Set($"k{i}", i);
            await session.CommitAsync();
        })));

        var after = await OpenAsync(credential);
        Assert.Equal(51, after.Keys.Count);
        Assert.All(Enumerable.Range(0, 50), i => Assert.Equal(i, after.Get<int>($"k{i}")));
    }

    private sealed record CartItem(string Sku, int Quantity);
}
