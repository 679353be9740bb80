using Microsoft.Extensions.Time.Testing;
using System.Net;
using Microsoft.Extensions.Options;
using Tessera.Testing;

namespace Tessera.Tests;

/// <summary>Per-user session management over the in-memory store, driven through the core API only.</summary>
public sealed class SubjectSessionsTests
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly TesseraOptions _options = new();
    private readonly InMemorySessionStore _store;

    public SubjectSessionsTests()
    {
        _options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        _store = new InMemorySessionStore(_clock);
    }

    private SessionManager NewManager(ISessionStore? store = null) => new(store ?? _store, Options.Create(_options), _clock);

    private static async Task<string> SignInAsync(SessionManager manager, string subject, SessionMetadata? metadata = null)
    {
        var session = manager.Open(null, metadata);
        await session.LoadAsync();
        session.SignIn(subject);
        var result = await session.CommitAsync();
        return result.SessionId!;
    }

    [Fact]
    public async Task ListingGivesTheSubjectsLiveSessionsOldestFirstWithMetadataAndTheCurrentFlag()
    {
        var manager = NewManager();
        var first = await SignInAsync(manager, "alice", new SessionMetadata("Firefox", "192.0.2.7", "laptop"));
        _clock.Advance(TimeSpan.FromSeconds(1));
        var second = await SignInAsync(manager, "alice", new SessionMetadata("Safari", "2001:db8::1"));
        await SignInAsync(manager, "bob");

        var sessions = await manager.Subjects.ListAsync("alice", currentSessionId: second);

        Assert.Equal([first, second], sessions.Select(s => s.Id));
        Assert.Equal([false, true], sessions.Select(s => s.IsCurrent));
        Assert.Equal(("Firefox", "192.0.2.7", "laptop"), (sessions[0].UserAgent, sessions[0].IpAddress, sessions[0].Label));
        Assert.Equal(_clock.GetUtcNow() - TimeSpan.FromSeconds(1), sessions[0].CreatedAt);
        Assert.Equal(sessions[0].CreatedAt + _options.IdleTimeout, sessions[0].ExpiresAt);
        Assert.Empty(await manager.Subjects.ListAsync("carol"));
        Assert.All(await manager.Subjects.ListAsync("alice"), s => Assert.False(s.IsCurrent));
    }

    [Fact]
    public async Task ExpiredAndRevokedSessionsAreNotListed()
    {
        var manager = NewManager();
        var old = await SignInAsync(manager, "alice");
        _clock.Advance(_options.IdleTimeout - TimeSpan.FromMinutes(1));
        var revoked = await SignInAsync(manager, "alice");
        var live = await SignInAsync(manager, "alice");
        await manager.RevokeAsync(revoked);
        _clock.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal([live], (await manager.Subjects.ListAsync("alice")).Select(s => s.Id));
        Assert.NotEqual(old, live);
    }

    [Fact]
    public async Task RevokingIsRefusedForAnotherSubjectsOrAnAnonymousSessionUnlessAnOperatorAsks()
    {
        var manager = NewManager();
        var bobs = await SignInAsync(manager, "bob");
        var anonymous = manager.Open(null);
        await anonymous.LoadAsync();
        anonymous.Set("cart", "apple");
        var anonymousId = (await anonymous.CommitAsync()).SessionId!;

        Assert.Equal(SubjectSessionRevocation.NotOwned, await manager.Subjects.RevokeAsync("alice", bobs));
        Assert.Equal(SubjectSessionRevocation.NotOwned, await manager.Subjects.RevokeAsync("alice", anonymousId));
        Assert.Equal(SubjectSessionRevocation.NotFound, await manager.Subjects.RevokeAsync("alice", "no-such-session"));
        Assert.NotNull(await _store.LoadAsync(bobs));

        Assert.Equal(SubjectSessionRevocation.Revoked, await manager.Subjects.RevokeAsOperatorAsync(bobs));
        Assert.Equal(SubjectSessionRevocation.NotFound, await manager.Subjects.RevokeAsOperatorAsync(bobs));
        Assert.Null(await _store.LoadAsync(bobs));
    }

    [Fact]
    public async Task RevokingAllEndsEverySessionOfTheSubjectAndNoOneElses()
    {
        var manager = NewManager();
        await SignInAsync(manager, "alice");
        await SignInAsync(manager, "alice");
        await manager.Tokens.CreateAsync("alice");
        var bobs = await SignInAsync(manager, "bob");

        Assert.Equal(3, await manager.Subjects.RevokeAllAsync("alice"));

        Assert.Empty(await manager.Subjects.ListAsync("alice"));
        Assert.Equal([bobs], (await manager.Subjects.ListAsync("bob")).Select(s => s.Id));
        Assert.Equal(0, await manager.Subjects.RevokeAllAsync("alice"));
    }

    [Fact]
    public async Task RevokingOthersKeepsTheGivenSessionAndRevokesAllWhenItIsNotTheSubjects()
    {
        var manager = NewManager();
        var keep = await SignInAsync(manager, "alice");
        await SignInAsync(manager, "alice");
        var bobs = await SignInAsync(manager, "bob");

        Assert.Equal(1, await manager.Subjects.RevokeOthersAsync("alice", keep));
        Assert.Equal([keep], (await manager.Subjects.ListAsync("alice")).Select(s => s.Id));

        Assert.Equal(1, await manager.Subjects.RevokeOthersAsync("alice", bobs));
        Assert.Empty(await manager.Subjects.ListAsync("alice"));
        Assert.NotNull(await _store.LoadAsync(bobs));
    }

    [Fact]
    public async Task AStoreWithoutASubjectIndexGetsAClearError()
    {
        var manager = NewManager(new RequiredOnlyStore(_store));

        var list = await Assert.ThrowsAsync<InvalidOperationException>(async () => await manager.Subjects.ListAsync("alice"));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await manager.Subjects.RevokeAsync("alice", "x"));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await manager.Subjects.RevokeAllAsync("alice"));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await manager.Subjects.RevokeOthersAsync("alice", "x"));

        Assert.Contains("ISubjectSessionIndex", list.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheMetadataPolicyAppliesToSessionsTheCoreCreates()
    {
        _options.Metadata.RecordUserAgent = false;
        _options.Metadata.IpAddress = IpAddressRecording.Truncated;
        var manager = NewManager();
        await SignInAsync(manager, "alice", new SessionMetadata("Firefox", "192.0.2.77", "laptop"));

        var session = Assert.Single(await manager.Subjects.ListAsync("alice"));

        Assert.Null(session.UserAgent);
        Assert.Equal("192.0.2.0", session.IpAddress);
        Assert.Equal("laptop", session.Label);
    }
}

public sealed class SessionMetadataOptionsTests
{
    [Theory]
    [InlineData("203.0.113.77", "203.0.113.0")]
    [InlineData("2001:db8:1:2::5", "2001:db8:1::")]
    [InlineData("::ffff:198.51.100.9", "198.51.100.0")]
    [InlineData("fe80::1%3", "fe80::")]
    public void TruncatedKeepsTheIPv4Slash24AndTheIPv6Slash48(string full, string truncated)
    {
        var policy = new SessionMetadataOptions { IpAddress = IpAddressRecording.Truncated };

        Assert.Equal(truncated, policy.Apply(new SessionMetadata(IpAddress: full)).IpAddress);
        Assert.Equal(truncated, policy.Capture(null, IPAddress.Parse(full)).IpAddress);
        Assert.Equal(truncated, policy.Apply(policy.Apply(new SessionMetadata(IpAddress: full))).IpAddress);
    }

    [Fact]
    public void TheDefaultsRecordTheUserAgentCappedAndTheFullAddress()
    {
        var policy = new SessionMetadataOptions();

        var metadata = policy.Capture(new string('a', 600), IPAddress.Parse("2001:db8:1:2::5"), "phone");

        Assert.True(policy.RecordUserAgent);
        Assert.Equal(IpAddressRecording.Full, policy.IpAddress);
        Assert.Equal(TesseraDefaults.MaxUserAgentLength, metadata.UserAgent!.Length);
        Assert.Equal("2001:db8:1:2::5", metadata.IpAddress);
        Assert.Equal("phone", metadata.Label);
        Assert.Equal(SessionMetadata.Empty, policy.Capture("", null));
    }

    [Fact]
    public void OffRecordsNoAddressAndNoUserAgentWhenThatIsOffToo()
    {
        var policy = new SessionMetadataOptions { IpAddress = IpAddressRecording.Off, RecordUserAgent = false };

        Assert.Equal(new SessionMetadata(Label: "phone"), policy.Apply(new SessionMetadata("Firefox", "192.0.2.1", "phone")));
    }

    [Fact]
    public void AnAddressThatDoesNotParseIsDroppedWhenTruncatingAndKeptWhenFull()
    {
        Assert.Null(new SessionMetadataOptions { IpAddress = IpAddressRecording.Truncated }.Apply(new SessionMetadata(IpAddress: "unknown")).IpAddress);
        Assert.Equal("unknown", new SessionMetadataOptions().Apply(new SessionMetadata(IpAddress: "unknown")).IpAddress);
    }

    [Fact]
    public void AnUndefinedAddressModeFailsValidation()
    {
        var options = new TesseraOptions();
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        options.Metadata.IpAddress = (IpAddressRecording)7;

        var result = new TesseraOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("Tessera:Metadata:IpAddress", result.FailureMessage, StringComparison.Ordinal);
    }
}
