using Tessera.Redis.Resp;

namespace Tessera.Redis.Tests.Resp;

public sealed class RedisOptionsTests
{
    [Fact]
    public void AFullConnectionStringIsParsed()
    {
        var options = RedisOptions.Parse("cache.internal:6380,password=p@ss=word,user=app,database=4,connectTimeout=1500,commandTimeout=250");

        Assert.Equal("cache.internal", options.Host);
        Assert.Equal(6380, options.Port);
        Assert.Equal("p@ss=word", options.Password);
        Assert.Equal("app", options.User);
        Assert.Equal(4, options.Database);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), options.ConnectTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.CommandTimeout);
    }

    [Fact]
    public void AHostAloneGetsTheDefaults()
    {
        var options = RedisOptions.Parse("localhost");

        Assert.Equal("localhost", options.Host);
        Assert.Equal(6379, options.Port);
        Assert.Null(options.Password);
        Assert.Equal(0, options.Database);
        Assert.Equal(RedisDefaults.CommandTimeout, options.CommandTimeout);
    }

    [Fact]
    public void AnIpv6HostIsWrittenInBrackets()
    {
        var options = RedisOptions.Parse("[::1]:7000, defaultDatabase = 2");

        Assert.Equal("::1", options.Host);
        Assert.Equal(7000, options.Port);
        Assert.Equal(2, options.Database);
        Assert.Equal("[::1]:7000,database=2", options.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData(":6379")]
    [InlineData("host:notaport")]
    [InlineData("host:70000")]
    [InlineData("host,database=-1")]
    [InlineData("host,commandTimeout=0")]
    [InlineData("host,ssl=true")]
    [InlineData("::1:6379")]
    public void AMalformedConnectionStringIsRefused(string connectionString)
    {
        Assert.Throws<FormatException>(() => RedisOptions.Parse(connectionString));
    }

    [Fact]
    public void NeitherToStringNorAParseErrorShowsThePassword()
    {
        var options = RedisOptions.Parse("h:1,password=hunter2");
        var error = Assert.Throws<FormatException>(() => RedisOptions.Parse("h:1,password=hunter2,with,comma"));

        Assert.Equal("h:1,password=*****", options.ToString());
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("with", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidationNamesTheBadSetting()
    {
        var options = new RedisOptions { User = "app" };

        var ex = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Equal("User", ex.ParamName);
    }
}
