//! Greets every message: the reply to "Ada" is "hello, Ada!".
use r1_guest::{Actor, Config, Message};

struct Hello {
    greeting: String,
}

impl Actor for Hello {
    fn init(config: Config) -> Result<Self, String> {
        let greeting = config.get_or("greeting", "hello").to_owned();
        Ok(Hello { greeting })
    }

    fn handle(&mut self, msg: Message) -> Result<Option<Vec<u8>>, String> {
        let reply = format!("{}, {}!", self.greeting, msg.text().trim());
        println!("{reply}");
        Ok(Some(reply.into_bytes()))
    }
}

r1_guest::export_actor!(Hello);
